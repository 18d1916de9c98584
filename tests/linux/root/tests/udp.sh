#!/bin/sh
# UDP with a host peer (tests/linux/udp_peers.py): 10.0.2.2 is the host's
# 127.0.0.1 through QEMU's user network. $1: its TFTP port, $2: its echo port.
# busybox's tftp fetches a file and sends it back under another name.
cd /tmp
tftp -g -r hello.bin -l hello.bin 10.0.2.2 "$1" && echo "tftp get: $(md5sum hello.bin)"
tftp -p -l hello.bin -r back.bin 10.0.2.2 "$1" && echo "tftp put: done"
/bin/udp_probe 10.0.2.2 "$2"
