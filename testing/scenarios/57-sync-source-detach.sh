#!/usr/bin/env bash
# The sync source lets its disk go (docu/reliability-findings.md): node2's full sync of
# r0 (512 MiB, slowed by sync_limit_kb) reads node1's disk when node1 goes `down`. Once
# down returned, node1's disk is free within seconds (another program may open it
# exclusively and write it), though node2 still asks; node2's sync is refused and
# waits, and resumes when node1 is up again.
source "$(dirname "$0")/../lib.sh"

fresh_modules node1 node2
zero_disks vdb node1 node2
create_r0 /dev/vdb
join_cluster node2
on node2 'echo 4096 > /proc/sys/mars/sync_limit_kb'
on node2 'marsadm join-resource r0 /dev/vdb >/dev/null' || fail "join-resource on node2"
syncing() { [ "$(on node2 'readlink /mars/resource-r0/actual-node2/is-syncing')" = 1 ]; }
retry 60 syncing || fail "node2 does not sync: $(on node2 'marsadm view r0')"
retry 60 on node2 'test "$(readlink /mars/resource-r0/syncstatus-node2)" -gt 0' || fail "node2's sync makes no progress"

step "node1 goes down while node2's sync reads its disk: the disk is free afterwards"
on node1 'marsadm down r0' || fail "down on node1"
free() { on node1 'dd if=/dev/zero of=/dev/vdb bs=4096 count=1 seek=131071 conv=notrunc status=none'; }
retry 10 free || fail "node1's disk still held after down: $(on node1 'dmesg | tail -5')"
echo "node1's disk is free; node2: $(on node2 'readlink /mars/resource-r0/syncstatus-node2') bytes synced"

step "node1 up again: node2's sync goes on to the end"
on node1 'marsadm up r0' || fail "up on node1"
on node2 'echo 0 > /proc/sys/mars/sync_limit_kb'
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
echo ok
