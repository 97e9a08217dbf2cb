#!/usr/bin/env bash
# Three nodes (design reference §9.2, docu/failover.md): node3 joins while node1 is
# primary; during node3's full sync a planned handover node1 -> node2 happens: the
# sync continues from node2 (resumed where it was) and node3 then follows node2 by
# itself. Handover back to node1. Then node1 is cut off from both and keeps writing;
# forced failover to node3: node2, which never replayed past the split point, follows
# node3 by itself; node1 shows the split brain and is invalidated. Three disks equal.
# Raw writes on the 64 MiB scratch disk keep syncs and checksums cheap.
source "$(dirname "$0")/../lib.sh"
DISK=vda

three_nodes_r0
write_some() { on "$1" 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=32 seek='"$2"' oflag=direct status=none' || fail "write on $1"; }
replay_link() { on "$1" "readlink /mars/resource-r0/replay-$1"; }
write_some node1 0
on node2 "marsadm join-resource r0 /dev/$DISK >/dev/null" || fail "join-resource on node2"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node2 not UpToDate"

step "node3 joins; during its sync node1 hands over to node2"
on node3 'echo 1024 > /proc/sys/mars/sync_limit_kb'
# node3's own disk, not yet a member's, filled with random data: every block differs
# from node1's, and nothing has to be replicated first.
on node3 "dd if=/dev/urandom of=/dev/$DISK bs=1M count=\$((\$(cat /sys/block/$DISK/size) / 2048)) oflag=direct status=none" ||
  fail "fill node3's disk"
on node3 "marsadm join-resource r0 /dev/$DISK >/dev/null" || fail "join-resource on node3"
size=$(on node3 'marsadm view-resource-size r0')
retry 120 on node3 "test \$(marsadm view-sync-rest r0) -lt $((size - (8 << 20)))" ||
  fail "node3's sync does not progress: $(on node3 'marsadm view r0; ls -l /mars/resource-r0/actual-node3 /mars/resource-r0/todo-node3; cat /proc/sys/mars/sync_nr /proc/sys/mars/sync_wanted /proc/sys/mars/sync_limit; ps | grep mars_')"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node2 not UpToDate before the handover"
on node2 'marsadm primary r0' || fail "handover node1 -> node2: $(on node2 'marsadm view r0')"
synced_at=$(on node3 'readlink /mars/resource-r0/syncstatus-node3')
[ "$synced_at" -lt "$size" ] || fail "node3's sync finished before the handover"
on node3 'echo 0 > /proc/sys/mars/sync_limit_kb'
write_some node2 100
on node3 'marsadm wait-resource r0 --until uptodate --timeout 180' || fail "node3 not UpToDate: $(on node3 'marsadm view r0')"
on node3 'dmesg | grep "resource r0: resuming the full sync at"' || fail "node3's sync did not resume after the handover"
write_some node2 200
retry 60 caught_up node2 node1 node3 || fail "node1, node3 do not follow node2: $(for n in node1 node2 node3; do replay_link $n; done)"

step "hand back to node1; node2 and node3 follow"
on node1 'marsadm primary r0' || fail "handover node2 -> node1"
write_some node1 300
retry 60 caught_up node1 node2 node3 || fail "node2, node3 do not follow node1: $(for n in node1 node2 node3; do replay_link $n; done)"

step "node1 cut off and writing; forced failover to node3; node2 follows node3"
tb net cut node1 node2
tb net cut node1 node3
write_some node1 400
on node3 'marsadm pause-fetch r0 >/dev/null'
on node3 'marsadm primary --force r0' || fail "forced failover to node3"
write_some node3 500
on node3 'marsadm log-rotate r0 >/dev/null'
write_some node3 600
retry 60 caught_up node3 node2 || fail "node2 does not follow node3 during the cut: $(replay_link node2) vs $(replay_link node3)"
tb net heal node1 node2
tb net heal node1 node3
for n in node1 node2 node3; do
  retry 60 on $n 'test "$(marsadm view-is-split-brain r0)" = 1' || fail "no split brain shown on $n: $(on $n 'marsadm view r0')"
done
on node2 'marsadm view r0'
write_some node3 700
retry 60 caught_up node3 node2 || fail "node2 does not follow node3 after the heal: $(replay_link node2) vs $(replay_link node3)"

step "node1 (its device closed) leaves the role, is invalidated, follows node3"
retry 60 on node1 'test "$(readlink /mars/resource-r0/actual-node1/is-primary)" = 0' || fail "node1 did not leave the primary role"
on node1 'marsadm invalidate r0' || fail "invalidate on node1"
on node1 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node1 not UpToDate after invalidate: $(on node1 'marsadm view r0')"
write_some node3 800
retry 60 caught_up node3 node1 node2 || fail "node1, node2 do not follow node3"
for n in node1 node2 node3; do
  retry 30 on $n 'test "$(marsadm view-is-split-brain r0)" = 0' || fail "split brain still shown on $n: $(on $n 'marsadm view r0')"
done
for n in node1 node2 node3; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks $DISK node1 node2 node3

step "log-purge-all removes leftovers no member needs; delete-resource --force"
cur=$(on node2 'readlink /mars/resource-r0/replay-node2 | cut -d, -f1')
on node2 'cd /mars/resource-r0 && echo x > log-000000099-node2 && echo x > log-000000098-node9'
out=$(on node2 'marsadm log-purge-all r0') || fail "log-purge-all: $out"
echo "$out"
on node2 'test ! -e /mars/resource-r0/log-000000099-node2 && test -e /mars/resource-r0/log-000000098-node9' ||
  fail "log-purge-all without --force: $(on node2 'ls /mars/resource-r0')"
on node2 'marsadm log-purge-all --force r0' || fail "log-purge-all --force"
on node2 "test ! -e /mars/resource-r0/log-000000098-node9 && test -e /mars/resource-r0/$cur" ||
  fail "log-purge-all --force: $(on node2 'ls /mars/resource-r0')"
expect_status 1 on node3 'marsadm delete-resource r0'
on node3 'marsadm delete-resource --force r0' || fail "delete-resource --force on node3"
on node3 'test "$(readlink /mars/resource-r0/size)" = .deleted' || fail "r0 not deleted on node3"
retry 20 on node1 'test "$(readlink /mars/resource-r0/size)" = .deleted' || fail "the deletion did not reach node1"
