#!/usr/bin/env bash
# Installs what building, booting and testing Veneer needs, on Debian, as root.
# Quiet and idempotent: does nothing when everything is already there.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have g++ || need+=(g++)
have cmake || need+=(cmake)
have ninja || need+=(ninja-build)
have python3 || need+=(python3)
have qemu-system-x86_64 || need+=(qemu-system-x86)
have grub-mkrescue || need+=(grub-common)
[ -f /usr/lib/grub/i386-pc/moddep.lst ] || need+=(grub-pc-bin)          # the ISO boots under BIOS ...
[ -f /usr/lib/grub/x86_64-efi/moddep.lst ] || need+=(grub-efi-amd64-bin) # ... and UEFI
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need+=(ovmf)                   # UEFI firmware for the tests
have gdb || need+=(gdb)                                                  # tools/veneer.gdb, its test
have xorriso || need+=(xorriso)
have mformat || need+=(mtools)
[ -f /usr/include/gtest/gtest.h ] || need+=(libgtest-dev)
[ -f /usr/src/googletest/CMakeLists.txt ] || need+=(googletest)
have clang++ || need+=(clang)                       # the libFuzzer target
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || need+=(libclang-rt-14-dev)
have llvm-objdump || need+=(llvm)                   # reading BPF objects (clang -target bpf needs only clang)
have valgrind || need+=(valgrind)                   # bench/dpf: instructions per packet (callgrind)
[ -f /usr/include/pcap/pcap.h ] || need+=(libpcap-dev)          # bench/dpf: the libpcap baseline
[ -f /usr/include/benchmark/benchmark.h ] || need+=(libbenchmark-dev)  # bench/dpf: ns per packet
# The Linux personality: Debian's static busybox, musl for our own Linux
# programs, cpio for the root file system image.
file -L /bin/busybox 2>/dev/null | grep -q "statically linked" || need+=(busybox-static)
have musl-gcc || need+=(musl-tools)
have cpio || need+=(cpio)
have file || need+=(file)
have nc || need+=(netcat-openbsd)                   # tests/net: the host's nc -u as a peer
have tshark || need+=(tshark)                       # tests/net: every frame on the link checked

if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
