#!/bin/sh
# /proc as busybox's ps, free and uptime read it (tests/linux/CMakeLists.txt
# checks the output; not differential: the numbers are this machine's).
sleep 1 &
ps
wait
free
uptime
cat /proc/self/stat | cut -d' ' -f2
ls /proc | grep -c '^[0-9]'
