# gdb set-up for Veneer under QEMU (docs/debugging.md). From the repository
# root, with QEMU started by `tools/boot.py --gdb ...`:
#
#   gdb -x tools/veneer.gdb -ex 'veneer-connect'
#
# Loads the kernel's symbols (build/kernel/veneer.elf, or $VENEER_BUILD/...).
# Commands:
#   veneer-connect [PORT]   attach to QEMU's gdb stub (default 1234)
#   veneer-user FILE        add a user program's symbols (e.g. build/apps/hello.elf)
#   veneer-env              the env running now (id, rip and rsp it last saved)

set pagination off
set confirm off
set architecture i386:x86-64
set disassembly-flavor att

python
import os
build = os.environ.get("VENEER_BUILD", "build")
kernel = os.path.join(build, "kernel", "veneer.elf")
if not os.path.exists(kernel):
    raise gdb.GdbError(f"veneer.gdb: {kernel} not found: build first (bash scripts/build.sh), "
                       "run gdb from the repository root, or set VENEER_BUILD")
gdb.execute(f"file {kernel}")
end

define veneer-connect
  if $argc == 0
    target remote 127.0.0.1:1234
  else
    target remote 127.0.0.1:$arg0
  end
end
document veneer-connect
Attach to QEMU's gdb stub: veneer-connect [PORT] (default 1234).
end

# User programs are static ELF executables linked at fixed addresses, so
# their symbols load where the file says. Every env's user half uses the
# same addresses: condition user breakpoints on the env (see veneer-env).
define veneer-user
  add-symbol-file $arg0
end
document veneer-user
Load a user program's symbols: veneer-user build/apps/hello.elf
end

define veneer-env
  if veneer_cpu0.current
    printf "env %x\n", veneer_cpu0.current->id
  else
    printf "no env (the kernel is idle or booting)\n"
  end
end
document veneer-env
Print the id of the env running on the CPU (as the kernel's log prints it).
Condition a user breakpoint on it: break exos_dispatch_exception if veneer_cpu0.current->id == 0x43
end
