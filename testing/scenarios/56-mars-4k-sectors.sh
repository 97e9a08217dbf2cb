#!/usr/bin/env bash
# /mars on a disk with 4 KiB logical sectors (docu/reliability-findings.md): node1's
# /mars is ext4 on a loop device with 4096-byte sectors. Its logger cannot write records
# (multiples of 512 bytes) by direct I/O there and writes them through the page cache;
# logging never ceases, every record verifies, the writes reach node2, and node1's
# device shows them after a module reload (recovery from the logfiles on that /mars).
source "$(dirname "$0")/../lib.sh"

DISK=vda
restore() {
  on node1 'umount /mnt/r0 2>/dev/null; rmmod mars 2>/dev/null; umount /mars 2>/dev/null
    [ -s /tmp/loop4k ] && losetup -d $(cat /tmp/loop4k); rm -f /tmp/loop4k /tmp/mars4k.img
    mount -t ext4 /dev/vdc /mars; modprobe mars' || true
}
trap restore EXIT

step "node1: /mars on ext4 on a loop device with 4 KiB logical sectors"
on node1 'umount /mnt/r0 2>/dev/null; rmmod mars 2>/dev/null; umount /mars' || fail "cannot unmount /mars on node1"
on node1 'truncate -s 512M /tmp/mars4k.img && losetup --sector-size 4096 --show -f /tmp/mars4k.img > /tmp/loop4k &&
  mkfs.ext4 -q -b 4096 $(cat /tmp/loop4k) && mount -t ext4 $(cat /tmp/loop4k) /mars' || fail "4k /mars on node1"
assert_eq 4096 "$(on node1 'blockdev --getss $(cat /tmp/loop4k)')" "logical sector size under /mars"
on node1 'modprobe mars'
fresh_modules node2
zero_disks $DISK node1 node2
create_r0 /dev/$DISK
join_cluster node2
on node2 "marsadm join-resource r0 /dev/$DISK >/dev/null" || fail "join-resource on node2"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"

step "writes with fsync and O_DIRECT|O_DSYNC through /dev/mars/r0 on node1"
on node1 'head -c 8388608 /dev/urandom > /tmp/data && dd if=/tmp/data of=/dev/mars/r0 bs=4k seek=1024 conv=fsync status=none' ||
  fail "buffered writes with fsync"
fio_dsync() { # fio_dsync BS SIZE OFFSET: O_DIRECT|O_DSYNC writes, verified
  on node1 "fio --name=dsync --filename=/dev/mars/r0 --rw=randwrite --bs=$1 --size=$2 --offset=$3 --direct=1 --sync=1 \
    --ioengine=psync --verify=crc32c --do_verify=1 --output-format=terse >/dev/null" || fail "O_DIRECT|O_DSYNC writes of $1"
}
fio_dsync 4k 2M 16M
fio_dsync 512 256k 20M

step "logging went on: no emergency, every record verifies"
on node1 'dmesg | grep -e "ceased transaction logging" -e "logging ceases"' && fail "logging ceased on node1"
assert_eq 0 "$(on node1 'marsadm view-is-emergency r0')" "view-is-emergency on node1"
assert_eq 0 "$(on node1 'readlink /mars/resource-r0/actual-node1/has-emergency')" "has-emergency on node1"
on node1 'dmesg | grep "needs more than 512-byte alignment"' || fail "no line about writing through the page cache"
on node1 'ok=0; for f in /mars/resource-r0/log-*; do marsadm cat --summary $f || ok=1; done; exit $ok' || fail "a logfile does not verify"

step "the writes reach node2"
retry 180 caught_up node1 node2 || fail "node2 did not catch up: $(on node2 'marsadm view r0')"
sum() { on "$1" "dd if=$2 bs=1M count=24 status=none | sha256sum" | cut -d' ' -f1; }
want=$(sum node1 /dev/mars/r0)
assert_eq "$want" "$(sum node2 /dev/$DISK)" "node2's disk (first 24 MiB)"

step "node1 reloads its module: the device shows the same data"
on node1 'rmmod mars && modprobe mars'
retry 60 on node1 'test -b /dev/mars/r0' || fail "device did not come back on node1"
assert_eq "$want" "$(sum node1 /dev/mars/r0)" "node1's device after the reload"
on node1 'dmesg | grep -e "ceased transaction logging" -e "logging ceases"' && fail "logging ceased on node1"
echo ok
