#!/usr/bin/env bash
# Disk faults under a resource (docu/reliability.md, "Disk faults"): the data disks of
# both hosts are device-mapper devices whose table the scenario switches between
# linear (healthy), flakey (error_writes: writes fail, reads work; error_reads) and
# delay (a disk that hangs for seconds), under running replication.
# - The primary's disk refuses writes: writes are still acknowledged (logged); a read
#   through /dev/mars/r0 returns the newest data, never the old (the refused writes stay
#   in RAM and are retried); view shows DISK_ERROR with disk_error; a writer that would
#   need more RAM than the limit fails with EIO rather than hanging; once the disk works
#   again everything reaches it and view is UpToDate.
# - The secondary's disk refuses writes: view there shows DISK_ERROR, replay retries and
#   finishes once the disk works; the primary never notices.
# - The primary's disk refuses reads (flakey error_reads) while node2 syncs from it: the
#   application's reads fail (as without MARS), view on node1 shows DISK_ERROR, node2's
#   sync waits and finishes once the disk reads again.
# - The primary's disk hangs 5 s per write: the application's writes do not wait for it,
#   also not across a log rotation (the writeback finishes the old logfile meanwhile).
# At the end the disks are equal.
source "$(dirname "$0")/../lib.sh"
DISK=vda

# dm_table NODE TABLE...: switch NODE's d0 (over /dev/vda) to TABLE (the target and its
# arguments after the device's length).
dm_table() {
  local node=$1
  shift
  on "$node" "dmsetup suspend d0 && dmsetup load d0 --table \"0 \$(blockdev --getsz /dev/vda) $*\" && dmsetup resume d0" ||
    fail "cannot switch d0 on $node to $*"
}
healthy() { dm_table "$1" linear /dev/vda 0; }
refusing() { dm_table "$1" flakey /dev/vda 0 0 3600 1 error_writes; }
# sum NODE DEV MIB_AT MIB: sha256 of MIB MiB at MIB_AT of DEV on NODE, read with O_DIRECT.
sum() { on "$1" "dd if=$2 bs=1M skip=$3 count=$4 iflag=direct status=none | sha256sum | cut -c1-16"; }
diskstate() { view_field "$1" diskstate; }
# diskstate_is NODE WORD: for retry (arguments are expanded once).
diskstate_is() { [ "$(diskstate "$1")" = "$2" ]; }
reads() { [ "$(sum "$1" "$2" "$3" "$4")" = "$5" ]; }

fresh_modules node1 node2
zero_disks vda node1 node2
for n in node1 node2; do
  on $n 'dmsetup remove d0 2>/dev/null; dmsetup create d0 --table "0 $(blockdev --getsz /dev/vda) linear /dev/vda 0" && dmsetup mknodes' || fail "dm device on $n"
done
# Also after a failure: no d0 left over the next scenario's disk.
trap 'for n in node1 node2; do on $n "marsadm down r0; dmsetup remove d0" >/dev/null 2>&1; done' EXIT
create_r0 /dev/mapper/d0
join_cluster node2
on node2 'marsadm join-resource r0 /dev/mapper/d0 >/dev/null' || fail "join-resource on node2"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 180' || fail "node2 not UpToDate"
on node1 'for f in A:4 B:4 C:1; do dd if=/dev/urandom of=/tmp/${f%:*} bs=1M count=${f#*:} status=none; done'
A=$(on node1 'sha256sum < /tmp/A | cut -c1-16')
B=$(on node1 'sha256sum < /tmp/B | cut -c1-16')

step "the primary's disk refuses writes"
on node1 'dd if=/tmp/A of=/dev/mars/r0 bs=1M seek=16 oflag=direct conv=fsync status=none' || fail "writing A"
retry 60 caught_up node1 node2 || fail "A not written back and replicated"
refusing node1
on node1 'dd if=/tmp/B of=/dev/mars/r0 bs=1M seek=16 oflag=direct conv=fsync status=none' ||
  fail "writing B over A failed: the log takes writes while the disk refuses them"
sleep 3
assert_eq "$B" "$(sum node1 /dev/mars/r0 16 4)" "/dev/mars/r0 on node1 reads back after the disk refused B (A: $A)"
retry 20 diskstate_is node1 DISK_ERROR || fail "view on node1 does not show DISK_ERROR: $(on node1 'marsadm view r0')"
assert_eq -5 "$(view_field node1 disk_error)" "disk_error on node1"
on node1 'marsadm view r0'
on node1 'marsadm view r0' | grep -q 'DISK ERROR: the disk refused I/O' || fail "view does not explain the disk error"
# Still refused: the refused writes are retried, newer ones join them; reads find both.
on node1 'dd if=/tmp/C of=/dev/mars/r0 bs=1M seek=32 oflag=direct conv=fsync status=none' || fail "writing C"
assert_eq "$B" "$(sum node1 /dev/mars/r0 16 4)" "B on node1 after another write"
retry 60 reads node2 /dev/mapper/d0 16 4 "$B" || fail "node2 did not replay B"

step "a writer that needs more RAM than is left fails with EIO instead of hanging"
on node1 'echo 4 > /proc/sys/mars/mem_limit_mb'
rc=0
on node1 'timeout 60 dd if=/dev/urandom of=/dev/mars/r0 bs=1M seek=40 count=16 oflag=direct status=none' || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "writing 16 MiB over a 4 MiB limit with a refusing disk: exit $rc (124: hung)"
on node1 'echo 128 > /proc/sys/mars/mem_limit_mb'

step "the primary's disk works again"
healthy node1
retry 30 diskstate_is node1 UpToDate || fail "node1 not UpToDate after the disk recovered: $(on node1 'marsadm view r0')"
assert_eq 0 "$(view_field node1 disk_error)" "disk_error on node1 after recovery"
assert_eq "$B" "$(sum node1 /dev/mapper/d0 16 4)" "node1's disk after recovery"
on node1 'dmesg | grep -E "writeback to the disk (failed|works again)"' || true

step "the secondary's disk refuses writes"
refusing node2
on node1 'dd if=/tmp/A of=/dev/mars/r0 bs=1M seek=16 oflag=direct conv=fsync status=none' || fail "writing A again"
retry 30 diskstate_is node2 DISK_ERROR || fail "view on node2 does not show DISK_ERROR: $(on node2 'marsadm view r0')"
retry 30 diskstate_is node1 UpToDate || fail "node1 not UpToDate while node2's disk fails: $(on node1 'marsadm view r0')"
healthy node2
retry 60 caught_up node1 node2 || fail "node2 did not catch up after its disk recovered: $(on node2 'marsadm view r0')"
# The replayer moves replay-node2 as it goes; disk-error is published at the next tick.
disk_error_is() { [ "$(view_field "$1" disk_error)" = "$2" ]; }
retry 10 disk_error_is node2 0 || fail "disk_error on node2 after recovery: expected 0, got $(view_field node2 disk_error)"

step "the primary's disk refuses reads while node2 syncs"
dm_table node1 flakey /dev/vda 0 0 3600 1 error_reads
rc=0
on node1 'dd if=/dev/mars/r0 of=/dev/null bs=1M skip=16 count=4 iflag=direct status=none' || rc=$?
[ "$rc" != 0 ] || fail "a read through /dev/mars/r0 succeeded while node1's disk refuses reads"
on node2 'marsadm invalidate r0 >/dev/null' || fail "invalidate on node2"
retry 60 diskstate_is node1 DISK_ERROR || fail "view on node1 does not show DISK_ERROR while the sync's reads fail: $(on node1 'marsadm view r0')"
[ "$(diskstate node2)" != UpToDate ] || fail "node2 UpToDate although its sync source cannot read its disk"
healthy node1
on node2 'marsadm wait-resource r0 --until uptodate --timeout 180' || fail "node2's sync did not finish after node1's disk recovered: $(on node2 'marsadm view r0')"
# The error shows until the disk took a write again.
on node1 'dd if=/tmp/C of=/dev/mars/r0 bs=1M seek=60 oflag=direct conv=fsync status=none' || fail "writing after the read errors"
retry 30 diskstate_is node1 UpToDate || fail "node1 not UpToDate after its disk reads again: $(on node1 'marsadm view r0')"

step "the primary's disk hangs 5 s per write"
dm_table node1 delay /dev/vda 0 0 /dev/vda 0 5000
start=$SECONDS
on node1 'dd if=/tmp/B of=/dev/mars/r0 bs=1M seek=48 oflag=direct conv=fsync status=none' || fail "writing during the hang"
# Four writes waiting for the disk would take 20 s.
[ $((SECONDS - start)) -lt 10 ] || fail "4 MiB took $((SECONDS - start)) s: the writes waited for the hanging disk"
healthy node1
retry 60 caught_up node1 node2 || fail "not caught up after the hang"

step "a log rotation while the primary's disk hangs does not hold up the writes"
dm_table node1 delay /dev/vda 0 0 /dev/vda 0 8000
# small_writes BLOCK: 20 fsync'ed 4 KiB writes from BLOCK on, one each 0.2 s; prints the
# seconds they took.
small_writes() {
  local start=$SECONDS
  on node1 "i=0; while [ \$i -lt 20 ]; do dd if=/tmp/C of=/dev/mars/r0 bs=4k seek=\$(($1 + i)) count=1 oflag=direct conv=fsync status=none || exit 1; i=\$((i + 1)); sleep 0.2; done" || return 1
  echo $((SECONDS - start))
}
# The same writes without a rotation: what they take on this kernel (5 s on the stock
# kernel, 30 s on the debug kernel).
base=$(small_writes 14900) || fail "writing before the rotation"
# 8 MiB logged; writing it back takes 8 s per trip to the disk (and its flush).
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=1M seek=24 count=8 oflag=direct status=none' || fail "writing 8 MiB"
on node1 'marsadm log-rotate r0 >/dev/null' || fail "log-rotate"
next=$(on node1 'ls /mars/resource-r0 | grep "^log-" | tail -1')
took=$(small_writes 15000) || fail "writing after the rotation"
size=$(on node1 "stat -c %s /mars/resource-r0/$next")
echo "20 fsync'ed writes: $base s before, $took s after log-rotate; $next: $size bytes"
healthy node1
[ "$size" -gt 0 ] || fail "nothing logged in $next while the disk hung: the rotation waited for the writeback"
# Waiting for the writeback takes several trips of 8 s (the old logger: 28 s against 5 s).
[ "$took" -lt $((base + 8)) ] || fail "20 small writes after log-rotate took $took s, $base s before: the logger waited for the hanging disk"
retry 60 caught_up node1 node2 || fail "not caught up after the rotation: $(on node1 'marsadm view r0')"

for n in node1 node2; do on $n 'marsadm down r0 && dmsetup remove d0' || fail "down on $n"; done
trap - EXIT
same_disks vda node1 node2
