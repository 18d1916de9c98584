// init: the first environment. The kernel gives it its image, a stack, the
// boot modules (read-only) and the MACHINE capability; init starts the other
// programs from the boot modules and powers the machine off when they are done.
#include "exos/exos.h"

int main() {
  const veneer::KernelInfo& k = exos::kernel_info();
  exos::printf("init: env %x up; %lu frames, %lu boot modules\n", exos::self_id(), k.nframes,
               k.nmodules);

  // Start two instances of every other module (the demo ships hello.elf).
  exos::Child kids[8];
  int n = 0;
  for (uint64_t m = 1; m < k.nmodules; m++) {
    for (uint64_t copy = 0; copy < 2 && n < 8; copy++) {
      veneer::Status s = exos::spawn(reinterpret_cast<const void*>(k.modules[m].va), k.modules[m].size,
                                     copy + 1, &kids[n]);
      if (s != veneer::OK) {
        exos::printf("init: spawning %s failed: %s\n", k.modules[m].name, veneer::status_name(s));
        continue;
      }
      exos::printf("init: started %s as env %x (arg %lu)\n", k.modules[m].name, kids[n].id, copy + 1);
      n++;
    }
  }
  for (int i = 0; i < n; i++) exos::wait_env(kids[i].id);

  uint64_t free_frames = 0;
  for (uint64_t p = 0; p < k.nframes; p++)
    if (exos::frame_table()[p].owner == veneer::kOwnerFree) free_frames++;
  exos::printf("init: all %d children exited; %lu frames free\n", n, free_frames);
  exos::printf("init: demo complete, powering off\n");
  exos::sys_poweroff(veneer::kMachineSlot, veneer::kPoweroffSuccess);
  return 0;
}
