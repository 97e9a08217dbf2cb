#!/usr/bin/env bash
# The /mars disk fails (docu/reliability.md, "Disk faults"): /mars of both nodes is ext4
# on a device-mapper device, switched to dm-flakey error_writes under running writes.
# Before, node1's /mars stalls (dm-delay, writes 8 s): view's LocalDevice line shows
# the write in flight and HANGING (the module's if-* links).
# First node2's (secondary): node1's application does not notice, node2's view says
# /mars takes no writes. Then node1's (primary): the application does not notice
# either: its writes (with fsync) are acknowledged and read back; logging ceases
# (emergency mode, view says so). Then both get a new /mars (as after replacing the
# disk), the resource is made again and node2 joins with a full sync: the disks end up
# equal.
source "$(dirname "$0")/../lib.sh"
DISK=vda

# remount_mars NODE DEV: NODE's /mars freshly made on DEV, module loaded.
remount_mars() {
  on "$1" "umount /mnt/r0 2>/dev/null; rmmod mars 2>/dev/null; umount /mars 2>/dev/null; mkfs.ext4 -q -F $2 && mount -t ext4 $2 /mars && modprobe mars" ||
    fail "fresh /mars on $2 on $1"
}

fresh_modules node1 node2
zero_disks vda node1 node2
# mars_table NODE TABLE...: switch NODE's m0 (under /mars) to TABLE.
mars_table() {
  on "$1" "dmsetup suspend --nolockfs m0 && dmsetup load m0 --table \"0 \$(blockdev --getsz /dev/vdc) ${*:2}\" && dmsetup resume m0" ||
    fail "cannot switch m0 on $1 to ${*:2}"
}
is_emergency() { [ "$(on "$1" 'marsadm view-is-emergency r0')" = 1 ]; }
for n in node1 node2; do
  on $n 'rmmod mars && umount /mars && dmsetup create m0 --table "0 $(blockdev --getsz /dev/vdc) linear /dev/vdc 0" && dmsetup mknodes' || fail "dm device for /mars on $n"
  remount_mars $n /dev/mapper/m0
done
create_r0 /dev/vda
join_cluster node2
on node2 'marsadm join-resource r0 /dev/vda >/dev/null' || fail "join-resource on node2"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 180' || fail "node2 not UpToDate"
on node1 'i=0; while [ $i -lt 100 ]; do printf "block %08d\n" $i | dd of=/dev/mars/r0 bs=4096 seek=$i conv=sync,fsync status=none || exit 1; i=$((i + 1)); done' ||
  fail "writes before the fault"

step "node1's /mars stalls: view shows the requests in flight, then HANGING"
mars_table node1 delay /dev/vdc 0 0 /dev/vdc 0 8000
on node1 'setsid sh -c "dd if=/dev/urandom of=/dev/mars/r0 bs=4096 count=1 seek=400 oflag=direct conv=fsync status=none" </dev/null >/dev/null 2>&1 &'
retry 20 on node1 'marsadm --window=2 view r0 | grep -Eq "^  LocalDevice /dev/mars/r0 \[Opened, [0-9]+ IOPS, [1-9][0-9]* Flying, HANGING age: "' ||
  fail "no HANGING request in view while /mars stalls: $(on node1 'marsadm --window=2 view r0')"
on node1 'marsadm --window=2 view r0' | grep LocalDevice
on node1 'marsadm view --json r0' | python3 -c 'import json, sys
r = json.load(sys.stdin)["resources"][0]
assert r["device_in_flight"] >= 1 and r["device_wait_s"] > 2, r' || fail "view --json while /mars stalls"
on node1 'marsadm metrics' | grep -E '^mars_resource_device_requests_in_flight\{resource="r0"\} [1-9]' || fail "metrics while /mars stalls"
mars_table node1 linear /dev/vdc 0
retry 30 on node1 'test "$(marsadm view-device-nrflying r0)" = 0' || fail "requests still in flight after the stall"

step "node2's /mars refuses writes while node1's application writes"
mars_table node2 flakey /dev/vdc 0 0 3600 1 error_writes
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=1M seek=32 count=8 oflag=direct conv=fsync status=none' || fail "node1's writes failed because node2's /mars failed"
retry 30 is_emergency node2 || fail "view on node2 does not show that its /mars takes no writes: $(on node2 'marsadm view r0')"
on node2 'marsadm view r0'
assert_eq 0 "$(on node1 'marsadm view-is-emergency r0')" "emergency on node1 while node2's /mars fails"

step "node1's /mars refuses writes while the application writes"
mars_table node1 flakey /dev/vdc 0 0 3600 1 error_writes
on node1 'i=100; while [ $i -lt 300 ]; do printf "block %08d\n" $i | dd of=/dev/mars/r0 bs=4096 seek=$i conv=sync,fsync status=none || { echo "block $i failed"; exit 1; }; i=$((i + 1)); done' ||
  fail "an application write failed because /mars failed"
on node1 'i=0; while [ $i -lt 300 ]; do
    got=$(dd if=/dev/mars/r0 bs=4096 skip=$i count=1 iflag=direct status=none | head -c 14)
    [ "$got" = "$(printf "block %08d" $i)" ] || { echo "block $i: $got"; exit 1; }; i=$((i + 1)); done' ||
  fail "a block written while /mars failed does not read back"
retry 30 is_emergency node1 || fail "view on node1 does not show emergency mode: $(on node1 'marsadm view r0')"
on node1 'marsadm view r0'
on node1 'dmesg | grep -i "mars.*ceased\|mars.*logfile" | tail -5' || true

step "both get a new /mars; node2 joins again with a full sync"
for n in node1 node2; do
  mars_table $n linear /dev/vdc 0
  on $n 'marsadm down r0' || echo "down r0 on $n failed (its /mars failed): going on"
  on $n 'umount /mnt/r0 2>/dev/null; rmmod mars' || fail "rmmod on $n after the /mars failure"
  on $n 'umount /mars && dmsetup remove m0' || fail "umount of the failed /mars on $n"
  remount_mars $n /dev/vdc
done
create_r0 /dev/vda
join_cluster node2
on node2 'marsadm join-resource r0 /dev/vda >/dev/null' || fail "join-resource on node2 again"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 180' || fail "node2 not UpToDate after the resync"
for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks vda node1 node2
