#include "handler_runtime.h"

namespace veneer::net {

namespace {

constexpr uint64_t kFailed = ~0ull;  // -1 in the handler's r0

bool in_range(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }
// Takes len bytes of the run's helper budget; false (and nothing taken) if
// that is more than is left.
bool charge(HandlerRun* run, uint64_t len) {
  if (len > run->helper_bytes_left) return false;
  run->helper_bytes_left -= len;
  return true;
}

uint64_t copy_frame(uint64_t buf_off, uint64_t frame_off, uint64_t len, uint64_t, uint64_t, HandlerRun* run) {
  if (!in_range(buf_off, len, run->buffer_size) || !in_range(frame_off, len, run->frame_len) || !charge(run, len))
    return kFailed;
  uint8_t* d = run->buffer + buf_off;
  const uint8_t* src = run->frame + frame_off;
  uint64_t i = 0;
  for (; i + 8 <= len; i += 8) {  // eight bytes a step (a fixed-size copy is one load and one store)
    uint64_t word;
    __builtin_memcpy(&word, src + i, 8);
    __builtin_memcpy(d + i, &word, 8);
  }
  for (; i < len; i++) d[i] = src[i];
  return 0;
}

uint64_t send_reply(uint64_t buf_off, uint64_t len, uint64_t, uint64_t, uint64_t, HandlerRun* run) {
  if (!in_range(buf_off, len, run->buffer_size) || len > kHandlerMaxFrame || !run->host || !run->host->send ||
      !run->replies_left || !charge(run, len))
    return kFailed;
  run->replies_left--;
  return uint64_t(run->host->send(run->host->context, run->buffer + buf_off, uint32_t(len)));
}

uint64_t wake_env(uint64_t value, uint64_t, uint64_t, uint64_t, uint64_t, HandlerRun* run) {
  if (run->host && run->host->wake) run->host->wake(run->host->context, value);
  return 0;
}

uint64_t checksum(uint64_t region, uint64_t off, uint64_t len, uint64_t seed, uint64_t, HandlerRun* run) {
  const uint8_t* base = region == VENEER_REGION_FRAME ? run->frame : run->buffer;
  uint64_t size = region == VENEER_REGION_FRAME ? run->frame_len : run->buffer_size;
  if (region > VENEER_REGION_BUFFER || !in_range(off, len, size) || !charge(run, len)) return kFailed;
  return ones_complement_sum(base + off, len, uint32_t(seed));
}

const HelperInfo kHelpers[] = {
    {copy_frame, 3, ~0ull},
    {send_reply, 2, ~0ull},
    {wake_env, 1, 0},
    {checksum, 4, ~0ull},
};

}  // namespace

uint32_t ones_complement_sum(const uint8_t* data, uint64_t len, uint32_t seed) {
  uint64_t sum = seed;
  uint64_t i = 0;
  for (; i + 1 < len; i += 2) sum += uint32_t(data[i]) << 8 | data[i + 1];
  if (i < len) sum += uint32_t(data[i]) << 8;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return uint32_t(sum);
}

const HelperInfo* helper(int32_t id) {
  if (id < VENEER_HELPER_COPY_FRAME || id > VENEER_HELPER_CHECKSUM) return nullptr;
  return &kHelpers[id - VENEER_HELPER_COPY_FRAME];
}

}  // namespace veneer::net
