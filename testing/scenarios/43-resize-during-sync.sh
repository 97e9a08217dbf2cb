#!/usr/bin/env bash
# Resize while a secondary's full sync is under way (docu/resize.md): node2 joins r0 (on
# the 64 MiB scratch disk vda, grown to 96 MiB on both nodes first) and syncs slowly
# (sync_limit_kb); node1 runs `marsadm resize r0` meanwhile. node2's sync, started for
# the old size, must go on to the new one (restarted with it, resuming where it was),
# not stop at the old size; afterwards the disks are equal over the new size.
source "$(dirname "$0")/../lib.sh"

DISK=vda
OLD_MIB=64
NEW_MIB=96
OLD=$((OLD_MIB << 20))
NEW=$((NEW_MIB << 20))
link() { on "$1" "readlink /mars/resource-r0/$2"; }

# restore_disks: the disk back to its default size (also after a failure: trap below).
restore_disks() { shrink_disks scratch.img "$OLD_MIB" node1 node2; }

[ "$(on node1 'blockdev --getsize64 /dev/vda')" = "$OLD" ] || fail "vda of node1 is not $OLD_MIB MiB (left over from an earlier run?)"
fresh_modules node1 node2
zero_disks vda node1 node2
create_r0 /dev/vda
on node1 "dd if=/dev/urandom of=/dev/mars/r0 bs=1M count=4 seek=60 oflag=direct status=none" || fail "write on node1"

step "vda grows to $NEW_MIB MiB on both nodes; node2 joins and syncs slowly (2 MiB/s)"
# From here on, also a failing run leaves vda at its default size for the next scenario.
trap restore_disks EXIT
for n in node1 node2; do tb disk grow "$n" vda "$NEW_MIB" || fail "disk grow on $n"; done
join_cluster node2
on node2 'echo 2048 > /proc/sys/mars/sync_limit_kb'
on node2 'marsadm join-resource r0 /dev/vda >/dev/null' || fail "join-resource on node2"
retry 30 bash -c "[ \"\$($TB exec node1 -- readlink /mars/resource-r0/actsize-node2)\" = $NEW ]" ||
  fail "actsize-node2 on node1: '$(link node1 actsize-node2)', expected $NEW"

step "resize while node2's sync runs"
synced=$(link node2 syncstatus-node2)
echo "node2's syncstatus before the resize: $synced"
[ "$synced" -lt "$OLD" ] || fail "node2's sync finished before the resize: the case is not tested (sync too fast?)"
on node1 'marsadm resize r0' || fail "resize failed"
assert_eq "$NEW" "$(on node1 'blockdev --getsize64 /dev/mars/r0')" "device size after resize"

step "node2's sync goes on to the new size"
retry 120 bash -c "[ \"\$($TB exec node2 -- readlink /mars/resource-r0/syncstatus-node2)\" = $NEW ]" ||
  fail "node2's sync stopped at $(link node2 syncstatus-node2), not at $NEW: $(on node2 'marsadm view r0; dmesg | grep mars | tail -5')"
on node2 'dmesg | grep "resource r0: resuming the full sync"' || fail "node2's sync was not restarted with the new size"
on node2 'echo 0 > /proc/sys/mars/sync_limit_kb'
on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"

step "the disks are equal over the new size"
retry 60 caught_up node1 node2 ||
  fail "node2 does not reach node1's log end"
for n in node1 node2; do on "$n" 'marsadm down r0' || fail "down on $n"; done
same_disks vda node1 node2

step "vda back to $OLD_MIB MiB for the next scenarios"
trap - EXIT
restore_disks
assert_eq "$OLD" "$(on node1 'blockdev --getsize64 /dev/vda')" "vda of node1 after the restore"
