#!/usr/bin/env bash
# Crash of the primary during writes (design reference §1.7, docu/failover.md), for each
# logger_completion_semantics: node1 recovers (every acknowledged fsync'ed block is
# there), node2 follows its new logfile; after down the disks are equal. Then node1
# crashes again during an xfs workload and node2 takes over with primary --force: its
# xfs mounts and xfs_repair -n finds nothing after umount.
source "$(dirname "$0")/../lib.sh"
DISK=vda

replay_link() { on "$1" "readlink /mars/resource-r0/replay-$1"; }
# crash_while WRITER: run WRITER (a loop printing each acknowledged number) on node1,
# crash node1 after 5 s, boot it, load the module (recovery runs); $last is the last
# number acknowledged before the crash.
crash_while() {
  local acked=/tmp/mars-acked.$$ writer
  tb exec node1 -- sh -c "$1" > $acked 2>/dev/null &
  writer=$!
  sleep 5
  tb crash node1
  wait $writer || true
  last=$(tail -n 1 $acked)
  rm -f $acked
  echo "last acknowledged: $last"
  [ -n "$last" ] && [ "$last" -gt 0 ] || fail "writer made no progress before the crash"
  tb start node1
  # `marsadm primary` right after the module is back waits for the recovered device
  # (it said "primary already" before the device was there).
  on node1 'modprobe mars && marsadm primary r0 --timeout 60 && test -b /dev/mars/r0' || fail "device did not reappear after recovery: $(on node1 'marsadm view r0')"
}

replicated_r0
on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node2 not UpToDate"

base=0
for sem in 0 1 2; do
  step "crash of node1 while writing, logger_completion_semantics=$sem"
  on node1 "echo $sem > /proc/sys/mars/logger_completion_semantics"
  crash_while "i=0; while [ \$i -lt 2000 ]; do
      printf 'block %08d\n' \$i | dd of=/dev/mars/r0 bs=4096 seek=\$((i + $base)) conv=sync,fsync status=none || exit 1
      echo \$i; i=\$((i + 1)); done"
  on node1 "i=0; while [ \$i -le $last ]; do
      got=\$(dd if=/dev/mars/r0 bs=4096 skip=\$((i + $base)) count=1 status=none | head -c 14)
      [ \"\$got\" = \"\$(printf 'block %08d' \$i)\" ] || { echo \"block \$i: '\$got'\"; exit 1; }
      i=\$((i + 1)); done" || fail "an acknowledged block is missing after crash recovery"
  on node1 'dmesg | grep "mars:.*recovery\|dropped"' || true
  on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=8 seek=900 oflag=direct status=none'
  retry 90 caught_up node1 node2 || fail "node2 does not follow node1 after its recovery: $(replay_link node1) vs $(replay_link node2); $(on node2 'marsadm view r0; dmesg | tail -5')"
  base=$((base + 2000))
done
for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks $DISK node1 node2

step "xfs: node1 crashes while writing; forced failover to node2"
DISK=vdb
replicated_r0 xfs
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate"
crash_while 'i=0; while [ $i -lt 100000 ]; do
    head -c 16384 /dev/urandom > /mnt/r0/f$i && sync /mnt/r0/f$i || exit 1
    echo $i; i=$((i + 1)); done'
on node2 'marsadm pause-fetch r0 >/dev/null'
on node2 'marsadm primary --force r0' || fail "forced failover to node2: $(on node2 'marsadm view r0')"
on node2 'mkdir -p /mnt/r0 && mount /dev/mars/r0 /mnt/r0' || fail "xfs does not mount on node2"
echo "node2 has $(on node2 'ls /mnt/r0 | wc -l') of $((last + 1)) files node1 acknowledged"
on node2 'umount /mnt/r0 && xfs_repair -n /dev/mars/r0 >/dev/null' || fail "xfs_repair -n found problems on node2"
