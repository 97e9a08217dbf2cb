#!/usr/bin/env bash
# A forced failover during a full sync (docu/failover.md, "A primary change during a
# full sync"): node3's sync from node1 has copied blocks node1 wrote while node2's fetch
# was paused; node1 is cut off and node2 takes over by force without them. node3's sync
# must not resume towards node2 at its status: the blocks below it are node1's history,
# in none of node2's logfiles. It starts again at 0, and node3 ends equal to node2.
# Raw writes on the 64 MiB scratch disk keep syncs and checksums cheap.
source "$(dirname "$0")/../lib.sh"
DISK=vda

three_nodes_r0
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=1M count=64 oflag=direct status=none' || fail "first write"
on node2 "marsadm join-resource r0 /dev/$DISK >/dev/null" || fail "join-resource on node2"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
# A new logfile: node3's replay starts there, after the records of the first write (a
# replay of those would overwrite what the sync copied, hiding the difference).
on node1 'marsadm log-rotate r0 >/dev/null' || fail "log-rotate"
retry 60 on node2 'readlink /mars/resource-r0/replay-node2 | grep -q ^log-000000002-node1,' || fail "node2 not on logfile 2"

step "node3 joins (slow sync, fetch paused); node2's fetch paused; node1 writes 24-32 MiB"
on node3 'echo 1024 > /proc/sys/mars/sync_limit_kb'
on node3 "marsadm join-resource r0 /dev/$DISK >/dev/null && marsadm pause-fetch r0 >/dev/null" || fail "join-resource on node3"
on node2 'marsadm pause-fetch r0 >/dev/null'
for n in node2 node3; do
  retry 30 on $n "test \"\$(readlink /mars/resource-r0/actual-$n/is-fetching)\" = 0" || fail "the fetch of $n did not stop"
done
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=1M count=8 seek=24 oflag=direct status=none' || fail "write on node1"
retry 120 on node3 'test "$(readlink /mars/resource-r0/syncstatus-node3)" -gt $((40 << 20))' ||
  fail "node3's sync did not pass 40 MiB: $(on node3 'marsadm view r0')"

step "node1 cut off; forced failover to node2; node3 follows node2"
tb net cut node1 node2
tb net cut node1 node3
on node2 'marsadm primary --force r0' || fail "forced failover to node2"
on node3 'echo 0 > /proc/sys/mars/sync_limit_kb; marsadm resume-fetch r0 >/dev/null'
on node3 'marsadm wait-resource r0 --until uptodate --timeout 240' || fail "node3 not UpToDate: $(on node3 'marsadm view r0')"
for n in node2 node3; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks $DISK node2 node3
on node3 'dmesg | grep "resource r0: restarting the full sync at 0"' || fail "node3's sync did not start again at 0"
tb net heal node1 node2
tb net heal node1 node3
