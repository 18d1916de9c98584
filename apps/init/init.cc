// init: the first environment. The kernel gives it its image, a stack, the
// boot modules (read-only), slice 0 and the MACHINE capability. init starts
// servers (echo.elf) once and every other module twice, hands each client a
// capability to the server, and powers the machine off when the clients are
// done.
#include "exos/exos.h"

namespace {

const veneer::KernelInfo& k = exos::kernel_info();

bool is_server(const veneer::BootModule& m) { return exos::ends_with(m.name, "echo.elf"); }

void print_slices() {
  exos::printf("init: slice vector:");
  for (uint32_t p = 0; p < veneer::kSlices; p++)
    if (exos::slice_vector().owner[p] != veneer::kNoOwner)
      exos::printf(" [%u]=%x", p, exos::slice_vector().owner[p]);
  exos::printf("\n");
}

}  // namespace

int main() {
  exos::printf("init: env %x up; %lu frames, %lu boot modules\n", exos::self_id(), k.nframes, k.nmodules);

  exos::Child server{};
  bool have_server = false;
  for (uint64_t m = 1; m < k.nmodules && !have_server; m++) {
    if (!is_server(k.modules[m])) continue;
    if (exos::spawn(reinterpret_cast<const void*>(k.modules[m].va), k.modules[m].size, 0, &server) != veneer::OK)
      continue;
    // Wait until it waits for calls.
    while (exos::env_info(server.id).state != veneer::ENV_BLOCKED) exos::yield();
    exos::printf("init: started %s as env %x\n", k.modules[m].name, server.id);
    have_server = true;
  }

  exos::Child kids[8];
  int n = 0;
  for (uint64_t m = 1; m < k.nmodules; m++) {
    if (is_server(k.modules[m])) continue;
    for (uint64_t copy = 0; copy < 2 && n < 8; copy++) {
      veneer::Status s = exos::spawn(reinterpret_cast<const void*>(k.modules[m].va), k.modules[m].size,
                                     copy + 1, &kids[n]);
      if (s != veneer::OK) {
        exos::printf("init: spawning %s failed: %s\n", k.modules[m].name, veneer::status_name(s));
        continue;
      }
      // A capability to the server, no rights needed to call it.
      if (have_server) exos::sys_cap_grant(server.slot, kids[n].slot, exos::kGrantBase, 0);
      exos::printf("init: started %s as env %x (arg %lu)\n", k.modules[m].name, kids[n].id, copy + 1);
      n++;
    }
  }
  print_slices();
  for (int i = 0; i < n; i++) exos::wait_env(kids[i].id);
  if (have_server) exos::sys_env_destroy(server.slot);

  uint64_t free_frames = 0;
  for (uint64_t p = 0; p < k.nframes; p++)
    if (exos::frame_table()[p].owner == veneer::kOwnerFree) free_frames++;
  exos::printf("init: all %d children exited; %lu frames free\n", n, free_frames);
  exos::printf("init: demo complete, powering off\n");
  exos::sys_poweroff(veneer::kMachineSlot, veneer::kPoweroffSuccess);
  return 0;
}
