#!/usr/bin/env bash
# The /mars disk fails (docu/reliability.md, "Disk faults"): /mars of node1 (primary) is
# ext4 on a device-mapper device switched to dm-flakey error_writes under running
# writes. The application must not notice: its writes (with fsync) are acknowledged
# and read back; logging ceases (emergency mode, view says so); node2 stops at the hole
# and is told to resync. Then node1 gets a new /mars (as after replacing the disk) and
# the secondary is brought back with invalidate: the disks end up equal.
source "$(dirname "$0")/../lib.sh"
DISK=vda

# remount_mars NODE DEV: NODE's /mars freshly made on DEV, module loaded.
remount_mars() {
  on "$1" "umount /mnt/r0 2>/dev/null; rmmod mars 2>/dev/null; umount /mars 2>/dev/null; mkfs.ext4 -q -F $2 && mount -t ext4 $2 /mars && modprobe mars" ||
    fail "fresh /mars on $2 on $1"
}

fresh_modules node1 node2
zero_disks vda node1 node2
on node1 'rmmod mars && umount /mars && dmsetup create m0 --table "0 $(blockdev --getsz /dev/vdc) linear /dev/vdc 0" && dmsetup mknodes' || fail "dm device for /mars"
remount_mars node1 /dev/mapper/m0
create_r0 /dev/vda
join_cluster node2
on node2 'marsadm join-resource r0 /dev/vda >/dev/null' || fail "join-resource on node2"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 180' || fail "node2 not UpToDate"
on node1 'i=0; while [ $i -lt 100 ]; do printf "block %08d\n" $i | dd of=/dev/mars/r0 bs=4096 seek=$i conv=sync,fsync status=none || exit 1; i=$((i + 1)); done' ||
  fail "writes before the fault"

step "node1's /mars refuses writes while the application writes"
on node1 'dmsetup suspend --nolockfs m0 && dmsetup load m0 --table "0 $(blockdev --getsz /dev/vdc) flakey /dev/vdc 0 0 3600 1 error_writes" && dmsetup resume m0' ||
  fail "cannot make /mars refuse writes"
on node1 'i=100; while [ $i -lt 300 ]; do printf "block %08d\n" $i | dd of=/dev/mars/r0 bs=4096 seek=$i conv=sync,fsync status=none || { echo "block $i failed"; exit 1; }; i=$((i + 1)); done' ||
  fail "an application write failed because /mars failed"
on node1 'i=0; while [ $i -lt 300 ]; do
    got=$(dd if=/dev/mars/r0 bs=4096 skip=$i count=1 iflag=direct status=none | head -c 14)
    [ "$got" = "$(printf "block %08d" $i)" ] || { echo "block $i: $got"; exit 1; }; i=$((i + 1)); done' ||
  fail "a block written while /mars failed does not read back"
retry 30 sh -c "[ \"\$($TB exec node1 -- marsadm view-is-emergency r0)\" = 1 ]" || fail "view on node1 does not show emergency mode: $(on node1 'marsadm view r0')"
on node1 'marsadm view r0'
on node1 'dmesg | grep -i "mars.*ceased\|mars.*logfile" | tail -5' || true

step "node1 gets a new /mars; node2 resyncs"
on node1 'dmsetup suspend --nolockfs m0 && dmsetup load m0 --table "0 $(blockdev --getsz /dev/vdc) linear /dev/vdc 0" && dmsetup resume m0' || fail "/mars disk back"
on node1 'marsadm down r0' || echo "down r0 on node1 failed (its /mars failed): going on"
on node1 'umount /mnt/r0 2>/dev/null; rmmod mars' || fail "rmmod on node1 after the /mars failure"
on node1 'umount /mars && dmsetup remove m0' || fail "umount of the failed /mars"
remount_mars node1 /dev/vdc
on node2 'marsadm leave-resource r0 >/dev/null; marsadm down r0 >/dev/null 2>&1; rmmod mars; rm -rf /mars/*; modprobe mars' || fail "node2 reset"
create_r0 /dev/vda
join_cluster node2
on node2 'marsadm join-resource r0 /dev/vda >/dev/null' || fail "join-resource on node2 again"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 180' || fail "node2 not UpToDate after the resync"
for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks vda node1 node2
