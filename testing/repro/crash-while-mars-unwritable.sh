#!/usr/bin/env bash
# Not a make-check scenario (it shows an open bug, docu/reliability-findings.md, "Open":
# a crash while /mars takes no writes): run it with
#   MARS_SCENARIO_INSTANCES=me testing/run-scenarios -j 1 testing/repro/crash-while-mars-unwritable.sh
# node1 writes A, then A2 over it (logged, written back, the replay link not yet
# durable), then /mars refuses writes and B goes over the same blocks straight to the
# disk (fsync'ed, acknowledged); node1 crashes and boots with /mars working again:
# recovery replays A2 over B. The last lines print the blocks: B expected, A2 read.
source "$(dirname "$0")/../lib.sh"
mars_table() {
  on "$1" "dmsetup suspend --nolockfs m0 && dmsetup load m0 --table \"0 \$(blockdev --getsz /dev/vdc) ${*:2}\" && dmsetup resume m0" || fail "m0 on $1"
}
fresh_modules node1
zero_disks vda node1
on node1 'rmmod mars && umount /mars && dmsetup create m0 --table "0 $(blockdev --getsz /dev/vdc) linear /dev/vdc 0" && dmsetup mknodes && mkfs.ext4 -q -F /dev/mapper/m0 && mount -t ext4 /dev/mapper/m0 /mars && modprobe mars' || fail setup
on node1 'marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vda >/dev/null && marsadm wait-resource r0 --until primary --timeout 30' || fail create
step "A written and written back, replay link recorded, then the writes of A again (logged, not yet recorded)"
on node1 'i=0; while [ $i -lt 64 ]; do printf "A %08d\n" $i | dd of=/dev/mars/r0 bs=4096 seek=$i conv=sync,fsync status=none; i=$((i+1)); done'
sleep 3
on node1 'sync; readlink /mars/resource-r0/replay-node1'
on node1 'i=0; while [ $i -lt 64 ]; do printf "A2 %08d\n" $i | dd of=/dev/mars/r0 bs=4096 seek=$i conv=sync,fsync status=none; i=$((i+1)); done'
step "/mars refuses writes; B written over the same blocks (straight to the disk)"
mars_table node1 flakey /dev/vdc 0 0 3600 1 error_writes
on node1 'i=0; while [ $i -lt 64 ]; do printf "B %08d\n" $i | dd of=/dev/mars/r0 bs=4096 seek=$i conv=sync,fsync status=none || echo "B $i failed"; i=$((i+1)); done'
sleep 5
on node1 'marsadm view r0; dmesg | grep mars: | tail -5'
on node1 'dd if=/dev/vda bs=4096 count=1 iflag=direct status=none | head -c 12; echo'
step "crash; /mars works again at boot"
tb crash node1
tb start node1 >/dev/null
on node1 'umount /mars 2>/dev/null; dmsetup create m0 --table "0 $(blockdev --getsz /dev/vdc) linear /dev/vdc 0" && dmsetup mknodes && mount -t ext4 /dev/mapper/m0 /mars && modprobe mars' || fail remount
sleep 5
on node1 'dmesg | grep mars: | tail -6; readlink /mars/resource-r0/replay-node1'
on node1 'for i in 0 1 63; do dd if=/dev/vda bs=4096 skip=$i count=1 iflag=direct status=none | head -c 12; echo; done'
