// hello: a small ExOS program that shows the exokernel mechanisms at work:
// demand paging from a user-level page-fault handler, a breakpoint handled
// and resumed without the kernel, and reading its own page tables and the
// page-ownership table.
#include "exos/exos.h"

namespace {

constexpr uint64_t kHeapVa = 0x0000500000000000;
int faults = 0;
int breakpoints = 0;

// Demand paging: map a fresh frame at the faulting page and retry.
void on_page_fault(veneer::ExceptionFrame* f) {
  uint64_t page = f->fault_addr & ~(veneer::kPageSize - 1);
  if (page < kHeapVa || page >= kHeapVa + (1 << 20)) {
    exos::printf("hello %x: stray fault at %lx\n", exos::self_id(), f->fault_addr);
    exos::exit();
  }
  if (exos::page_alloc(page, veneer::PERM_WRITE) != veneer::OK) exos::panic("out of memory");
  faults++;
}

void on_breakpoint(veneer::ExceptionFrame*) { breakpoints++; }

}  // namespace

int main() {
  uint32_t me = exos::self_id();
  exos::printf("hello %x: started with arg %lu\n", me, exos::start_arg());
  exos::set_exception_handler(14, on_page_fault);
  exos::set_exception_handler(3, on_breakpoint);

  auto* heap = reinterpret_cast<volatile uint64_t*>(kHeapVa);
  for (int i = 0; i < 4; i++) heap[i * 512] = me + i;  // touches 4 pages
  asm volatile("int3");

  uint64_t pte = exos::read_pte(kHeapVa);
  uint64_t pfn = (pte & 0x000FFFFFFFFFF000ull) >> 12;
  exos::printf("hello %x: %d page faults served in user space, %d breakpoint; heap page 0 is "
               "frame %lx (dirty %d), owner in the frame table: %x\n",
               me, faults, breakpoints, pfn, int((pte >> 6) & 1), exos::frame_table()[pfn].owner);
  // If init gave us a capability to a server, call it: a protected control
  // transfer into its address space and back.
  exos::Received reply;
  for (;;) {
    veneer::Status s = exos::pct_call(exos::kGrantBase, exos::Message{{me, 0, 0, 0, 0}}, &reply);
    if (s == veneer::ERR_BAD_CAP) break;      // no server in this boot (or no grant yet)
    if (s == veneer::ERR_BAD_STATE) {         // busy with another client: try again
      exos::yield();
      continue;
    }
    if (s == veneer::OK)
      exos::printf("hello %x: env %x answered %lu (it saw us as env %x)\n", me, reply.sender, reply.msg.w[0],
                   uint32_t(reply.msg.w[1]));
    break;
  }
  exos::printf("hello %x: owns %u frames; exiting\n", me, exos::env_table()[veneer::env_index(me)].frames);
  return 0;
}
