#!/usr/bin/env bash
# From DRBD to MARS on the same disks (docu/migration.md): ext4 written through DRBD 8.4
# (protocol C, internal metadata) on node1 and node2; DRBD goes down, node2's copy is
# made to differ in three places (a secondary that missed writes), and a dm-linear
# device of DRBD's data size (leaving DRBD's metadata at the end of the disk out)
# becomes resource r0: created on node1, joined on node2. The fast full sync compares
# the whole disk and copies exactly the three differing 64 KiB blocks; the files are
# intact on node1's /dev/mars/r0 and both disks are equal.
# testbed-kernels: 6.12
source "$(dirname "$0")/../lib.sh"
source "$TESTING/drbd-lib.sh"

cleanup() {
  for n in node1 node2; do
    on $n 'umount /mnt/d /mnt/r0 2>/dev/null; marsadm down r0 >/dev/null 2>&1; rmmod mars 2>/dev/null
      drbdadm down r0 2>/dev/null; dmsetup remove r0data 2>/dev/null; rm -rf /mars/* /etc/drbd.conf; true' >/dev/null 2>&1
  done
}
trap cleanup EXIT
DISK=vda # (64 MiB: the syncs stay short)
zero_disks $DISK node1 node2

step "ext4 through DRBD (protocol C, internal metadata)"
drbd_up C /dev/$DISK || fail "DRBD did not come up"
on node1 'mkfs.ext4 -q -F /dev/drbd0 && mkdir -p /mnt/d && mount /dev/drbd0 /mnt/d' || fail "ext4 on /dev/drbd0"
on node1 'cp -a /usr /etc /mnt/d/ && head -c 10485760 /dev/urandom > /mnt/d/data.bin && sync' || fail "writing files through DRBD"
on node1 'cd /mnt/d && find . -type f -exec md5sum {} + | sort -k2 > /tmp/sums && wc -l < /tmp/sums'
size=$(on node1 'blockdev --getsize64 /dev/drbd0') || fail "DRBD's data size"
on node1 'umount /mnt/d'
drbd_wait node1 60 "UpToDate/UpToDate, nothing out of sync" 'grep -q "ds:UpToDate/UpToDate" /proc/drbd && grep -q "oos:0$" /proc/drbd' ||
  fail "DRBD not in sync: $(on node1 'cat /proc/drbd')"
on node1 'drbdadm secondary r0' || fail "drbdadm secondary"
drbd_down || fail "drbdadm down"
echo "DRBD's data size: $size bytes of $(on node1 "blockdev --getsize64 /dev/$DISK")"

step "node2's copy differs in three 64 KiB blocks"
for mib in 1 20 40; do
  on node2 "head -c 4096 /dev/urandom | dd of=/dev/$DISK bs=4096 seek=$((mib * 256)) oflag=direct status=none" || fail "writing on node2"
done

step "the same disks become r0: dm-linear of DRBD's data size, create on node1, join on node2"
for n in node1 node2; do
  on $n "dmsetup create r0data --table '0 $((size / 512)) linear /dev/$DISK 0' && dmsetup mknodes" || fail "dm-linear on $n"
done
fresh_modules node1 node2
create_r0 /dev/mapper/r0data
join_cluster node2
on node2 'marsadm join-resource r0 /dev/mapper/r0data' || fail "join-resource on node2"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 600 2>/tmp/wait.err' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
# Its progress in a pipe: a line per step (the sync, maybe the log after it), not one
# per poll.
wait_err=$(on node2 'cat /tmp/wait.err')
echo "$wait_err"
grep -q '^waiting: r0: full sync: .* to go' <<<"$wait_err" && [ "$(wc -l <<<"$wait_err")" -le 3 ] ||
  fail "wait-resource's progress in a pipe: $wait_err"
out=$(on node2 'dmesg | grep "resource r0: synced"') || fail "no sync report in node2's kernel log"
echo "$out"
grep -q "synced $size bytes from node1, 196608 of them differed" <<<"$out" || fail "the sync did not copy exactly the three differing blocks: $out"

step "the files on /dev/mars/r0, and equal disks"
on node1 'mkdir -p /mnt/r0 && mount /dev/mars/r0 /mnt/r0 && cd /mnt/r0 && find . -type f -exec md5sum {} + | sort -k2 | cmp - /tmp/sums' ||
  fail "files differ on /dev/mars/r0"
on node1 'umount /mnt/r0'
retry 30 caught_up node1 node2 || fail "node2 did not catch up"
sums=$(for n in node1 node2; do on $n 'dd if=/dev/mapper/r0data bs=1M iflag=direct status=none | md5sum'; done | sort -u | wc -l)
assert_eq 1 "$sums" "distinct checksums of the two disks"
echo ok
