// echo: a server reached by protected control transfer. Every call enters
// here in echo's own address space with the caller's id (from the kernel)
// and a five-word message in registers; the reply goes back the same way.
#include "exos/exos.h"

namespace {

uint64_t calls = 0;

exos::Message serve(const exos::Received& in) {
  calls++;
  exos::printf("echo %x: call %lu from env %x, message %lu\n", exos::self_id(), calls, in.sender, in.msg.w[0]);
  return exos::Message{{in.msg.w[0] * 2, in.sender, calls, 0, 0}};
}

}  // namespace

int main() {
  exos::printf("echo %x: serving protected control transfers\n", exos::self_id());
  exos::pct_serve(serve);
}
