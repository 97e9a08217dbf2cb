#!/usr/bin/env bash
# Online resize (design reference §5.9, §9.2 K; docu/resize.md): r0 replicated with xfs
# mounted on node1. Writing past the end of /dev/mars/r0 fails with ENOSPC; `marsadm
# resize` is refused (nothing changed) while the disks are too small, for a shrink and
# on the secondary; after vdb grew on both nodes (testbed disk grow) it grows the device
# while xfs is mounted, xfs_growfs grows the filesystem, data goes into the new area,
# node2 syncs only the new area, and after down the disks are equal over the new size.
#
# Why the sync count means something: the sync copies only blocks whose digests
# differ. With node2's replay paused, node1 first writes 16 MiB into the old area, so
# the old area differs between the disks (the log still holds those writes, replayed
# after the sync). A sync of the new area alone copies far less; one that started
# again at 0 would copy the 16 MiB too.
source "$(dirname "$0")/../lib.sh"

OLD_MIB=512
NEW_MIB=640
OLD=$((OLD_MIB << 20))
NEW=$((NEW_MIB << 20))
# Sync traffic allowed for the new area: digests (16 bytes per 64 KiB), the blocks
# written there (xfs_growfs's new allocation groups, one raw block, a 2 MiB file if xfs
# puts it there), frame headers. A sync from 0 adds the 16 MiB written to the old area.
SYNC_LIMIT=$((8 << 20))

link() { on "$1" "readlink /mars/resource-r0/$2"; }

# past_end NODE BYTES: dd a 4 KiB block at byte BYTES of /dev/mars/r0 (O_DIRECT);
# prints dd's messages, exits with its status. Not while xfs is mounted (a mounted
# device cannot be opened for writing: bdev_allow_write_mounted=0).
past_end() {
  on "$1" "dd if=/dev/zero of=/dev/mars/r0 bs=4096 count=1 seek=$(($2 / 4096)) oflag=direct 2>&1"
}

# restore_disks: the disk back to its default size (also after a failure: trap below).
restore_disks() { shrink_disks data.img "$OLD_MIB" node1 node2; }

[ "$(on node1 'blockdev --getsize64 /dev/vdb')" = "$OLD" ] || fail "vdb of node1 is not $OLD_MIB MiB (left over from an earlier run?)"
replicated_r0 xfs
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
assert_eq "$OLD" "$(on node1 'blockdev --getsize64 /dev/mars/r0')" "device size"

step "every attached member reports its disk size (actsize-<host>)"
for n in node1 node2; do
  retry 30 bash -c "[ \"\$($TB exec node1 -- readlink /mars/resource-r0/actsize-$n)\" = $OLD ]" ||
    fail "actsize-$n on node1: '$(link node1 actsize-$n)', expected $OLD"
done

step "writing past the end of /dev/mars/r0 fails with ENOSPC"
on node1 'umount /mnt/r0'
out=$(past_end node1 "$OLD") && fail "dd past the end succeeded: $out"
echo "$out"
grep -q "No space left on device" <<<"$out" || fail "dd past the end did not fail with ENOSPC: $out"
on node1 'mount /dev/mars/r0 /mnt/r0' || fail "xfs does not mount again"

step "resize is refused while the disks are too small, for a shrink, and on the secondary"
# node2's own syncstatus link reaches node1 a moment after node2 is UpToDate: wait for
# it, or the snapshot below can race with its arrival.
synced_seen() { [ "$(link node1 syncstatus-node2)" = "$OLD" ]; }
retry 30 synced_seen || fail "node1 does not see node2's syncstatus $OLD: '$(link node1 syncstatus-node2)'"
tree_before=$(on node1 'for l in size syncstatus-node1 syncstatus-node2; do echo "$l $(readlink /mars/resource-r0/$l)"; done')
out=$(on node1 "marsadm resize r0 ${NEW_MIB}M 2>&1") && fail "resize beyond the disks succeeded: $out"
echo "$out"
grep -q "node1's disk has ($OLD bytes)" <<<"$out" || fail "refusal does not name the host with the small disk: $out"
expect_status 1 on node1 "marsadm resize r0 ${NEW_MIB}M >/dev/null 2>&1"
out=$(on node1 'marsadm resize r0 256M 2>&1') && fail "shrinking resize succeeded: $out"
echo "$out"
grep -q "can only grow" <<<"$out" || fail "shrink refusal does not say why: $out"
out=$(on node2 "marsadm resize r0 ${NEW_MIB}M 2>&1") && fail "resize on the secondary succeeded: $out"
echo "$out"
grep -q "node1 is its designated primary" <<<"$out" || fail "secondary refusal does not say why: $out"
out=$(on node1 'marsadm resize r0') || fail "resize to the (unchanged) smallest disk failed: $out"
echo "$out"
grep -q "nothing to grow" <<<"$out" || fail "resize without growth: $out"
assert_eq "$tree_before" "$(on node1 'for l in size syncstatus-node1 syncstatus-node2; do echo "$l $(readlink /mars/resource-r0/$l)"; done')" \
  "size and syncstatus links after the refusals"
assert_eq "$OLD" "$(on node1 'blockdev --getsize64 /dev/mars/r0')" "device size after the refusals"

step "node2's replay paused; node1 writes 16 MiB into the old area (the disks differ there now)"
on node2 'marsadm pause-replay r0 >/dev/null'
on node1 "head -c 16777216 /dev/zero | tr '\\0' x > /mnt/r0/old-area && sync" || fail "write into the old area"

step "vdb grows to $NEW_MIB MiB on both nodes (testbed disk grow); actsize follows"
# From here on, also a failing run leaves vdb at its default size for the next scenario.
trap restore_disks EXIT
for n in node1 node2; do tb disk grow "$n" vdb "$NEW_MIB" || fail "disk grow on $n"; done
assert_eq "$NEW" "$(on node2 'blockdev --getsize64 /dev/vdb')" "vdb of node2 in the guest"
for n in node1 node2; do
  retry 30 bash -c "[ \"\$($TB exec node1 -- readlink /mars/resource-r0/actsize-$n)\" = $NEW ]" ||
    fail "actsize-$n on node1: '$(link node1 actsize-$n)', expected $NEW"
done
assert_eq "$OLD" "$(link node1 size)" "size before resize"

step "marsadm resize r0 (default: the smallest disk) grows /dev/mars/r0 while xfs is mounted"
rx_before=$(on node2 'cat /proc/sys/mars/received_bytes_2_sync')
out=$(on node1 'marsadm resize r0') || fail "resize failed: $out"
echo "$out"
assert_eq "$NEW" "$(on node1 'blockdev --getsize64 /dev/mars/r0')" "device size after resize"
assert_eq "$NEW" "$(link node1 size)" "size link"
assert_eq "$NEW" "$(link node1 syncstatus-node1)" "the primary's syncstatus"
assert_eq "$NEW" "$(view_field node1 size)" "marsadm view --json size"
on node1 'dmesg | grep "resource r0: device grown from"' || fail "no kernel message about the growth"

step "the new area (not in xfs yet) is writable up to the new end; past it ENOSPC"
on node1 'umount /mnt/r0'
on node1 "dd if=/dev/urandom of=/dev/mars/r0 bs=4096 count=1 seek=$((NEW / 4096 - 1)) oflag=direct status=none" ||
  fail "writing the last block of the new area failed"
out=$(past_end node1 "$NEW") && fail "dd past the new end succeeded: $out"
grep -q "No space left on device" <<<"$out" || fail "dd past the new end did not fail with ENOSPC: $out"
on node1 'mount /dev/mars/r0 /mnt/r0' || fail "xfs does not mount again"

step "xfs_growfs while mounted; a file into the grown filesystem"
blocks_before=$(on node1 'stat -f -c %b /mnt/r0')
on node1 'xfs_growfs /mnt/r0' || fail "xfs_growfs"
blocks_after=$(on node1 'stat -f -c %b /mnt/r0')
echo "filesystem blocks: $blocks_before -> $blocks_after"
[ "$blocks_after" -gt "$blocks_before" ] || fail "xfs did not grow"
on node1 'mkdir /mnt/r0/new && head -c 2097152 /dev/urandom > /mnt/r0/new/f && sync' || fail "write after growing"
want=$(on node1 'sha256sum /mnt/r0/new/f /mnt/r0/old-area')

step "node2 syncs the new area only"
retry 300 bash -c "[ \"\$($TB exec node2 -- readlink /mars/resource-r0/syncstatus-node2)\" = $NEW ]" ||
  fail "node2's sync did not finish: $(on node2 'marsadm view r0')"
rx=$(( $(on node2 'cat /proc/sys/mars/received_bytes_2_sync') - rx_before ))
echo "sync traffic received by node2: $rx bytes (limit $SYNC_LIMIT)"
on node2 'dmesg | grep "resource r0: synced"' || true
on node2 "dmesg | grep -q 'resource r0: synced $((NEW - OLD)) bytes from node1'" ||
  fail "node2's sync did not compare exactly the new area ($((NEW - OLD)) bytes)"
[ "$rx" -lt "$SYNC_LIMIT" ] || fail "node2 received $rx bytes of sync traffic: more than the new area needs"

step "the module refuses a size it cannot follow (link set by hand, marsadm refuses these): smaller, beyond the disk"
# set_size BYTES: the size link on node1, written atomically as marsadm does.
set_size() {
  on node1 "ln -s $1 /mars/resource-r0/.tmp.test.size && mv -f /mars/resource-r0/.tmp.test.size /mars/resource-r0/size && echo 1 > /proc/sys/mars/trigger"
}
module_error() { retry 30 bash -c "[ \"\$($TB exec node1 -- readlink /mars/resource-r0/actual-node1/error)\" = $1 ]"; }
# rounds N: node1's module has done N more rounds (it rewrites its liveness link each round).
rounds() {
  local i last now
  last=$(on node1 'readlink /mars/actual-node1/time')
  for i in $(seq "$1"); do
    retry 30 bash -c "[ \"\$($TB exec node1 -- readlink /mars/actual-node1/time)\" != '$last' ]" || fail "node1's module does no rounds"
    last=$(on node1 'readlink /mars/actual-node1/time')
  done
}
set_size $((NEW - (64 << 20)))
module_error -22 || fail "a smaller size is not refused (EINVAL): error $(link node1 actual-node1/error)"
assert_eq "$NEW" "$(on node1 'blockdev --getsize64 /dev/mars/r0')" "device size with a smaller size link"
rounds 3
set_size $((NEW + (64 << 20)))
module_error -28 || fail "a size beyond the disk is not refused (ENOSPC): error $(link node1 actual-node1/error)"
assert_eq "$NEW" "$(on node1 'blockdev --getsize64 /dev/mars/r0')" "device size with a size link beyond the disk"
rounds 3
set_size "$NEW"
module_error 0 || fail "the module does not accept the size again: error $(link node1 actual-node1/error)"
on node1 'dmesg | grep -e "a resource only grows" -e "cannot grow to"'
# Logged once each, though refused in every round (3 rounds and more each).
assert_eq 1 "$(on node1 'dmesg | grep -c "a resource only grows"')" "messages about the smaller size"
assert_eq 1 "$(on node1 'dmesg | grep -c "cannot grow to"')" "messages about the size beyond the disk"

step "replay resumes; node2 UpToDate; the disks are equal over the new size"
on node2 'marsadm resume-replay r0 >/dev/null'
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
on node1 'umount /mnt/r0'
retry 60 caught_up node1 node2 ||
  fail "node2 does not reach node1's log end: $(link node1 replay-node1) vs $(link node2 replay-node2)"
for n in node1 node2; do on "$n" 'marsadm down r0' || fail "down on $n"; done
same_disks vdb node1 node2
on node2 'mkdir -p /mnt/r0 && mount -o ro /dev/vdb /mnt/r0' || fail "node2's copy does not mount"
assert_eq "$want" "$(on node2 'sha256sum /mnt/r0/new/f /mnt/r0/old-area')" "files on node2's copy"
assert_eq "$blocks_after" "$(on node2 'stat -f -c %b /mnt/r0')" "filesystem blocks on node2's copy"
on node2 'umount /mnt/r0'

step "vdb back to $OLD_MIB MiB for the next scenarios"
trap - EXIT
restore_disks
assert_eq "$OLD" "$(on node1 'blockdev --getsize64 /dev/vdb')" "vdb of node1 after the restore"
echo "resize: growth online with xfs, refusals, sync of the new area only, equal disks"
