#include "handler.h"

namespace veneer::net {

Status Handler::load(const BpfInsn* prog, uint32_t n, uint32_t buffer_size, Verifier& verifier, HandlerJit& jit,
                     const CodeMemory* memory, VerifyResult* result) {
  VerifyResult v = verifier.verify(prog, n, buffer_size);
  if (result) *result = v;
  if (v.status != OK) return v.status;
  SealedCode code;
  if (!jit.compile(prog, n, *memory, &code)) return ERR_NO_MEMORY;
  unload();
  prog_ = prog;
  n_ = n;
  buffer_size_ = buffer_size;
  max_path_ = v.max_path;
  memory_ = memory;
  code_ = code;
  entry_ = reinterpret_cast<HandlerFn>(reinterpret_cast<uintptr_t>(code.entry));
  return OK;
}

void Handler::unload() {
  if (code_.handle) memory_->release(memory_->context, code_.handle);
  code_ = SealedCode{};
  entry_ = nullptr;
}

}  // namespace veneer::net
