#!/usr/bin/env bash
# /mars refuses writes, then the primary crashes before /mars is repaired
# (docu/emergency.md, "When /mars takes no writes"), with mars_broken_fails_writes = 1:
# no acknowledged write may be lost when the host comes back with /mars working again.
# node1 writes A over 64 blocks (recorded as written back), then A2 over them (logged,
# maybe not yet recorded), then /mars refuses writes and B goes over the same blocks.
# Each B write must fail (logging ceased and /mars cannot record it); after the crash
# and recovery, every block reads as its last acknowledged write. With the tunable at 0
# (MARS_BROKEN_FAILS_WRITES=0 runs it so) the B writes are acknowledged and recovery
# replays the older A2 over them: this scenario then fails ("block N: acknowledged B,
# reads A2"), the double fault the tunable exists for.
source "$(dirname "$0")/../lib.sh"
POLICY=${MARS_BROKEN_FAILS_WRITES:-1}
mars_table() {
  on "$1" "dmsetup suspend --nolockfs m0 && dmsetup load m0 --table \"0 \$(blockdev --getsz /dev/vdc) ${*:2}\" && dmsetup resume m0" ||
    fail "cannot switch m0 on $1 to ${*:2}"
}
mount_mars() {
  on node1 'umount /mars 2>/dev/null; dmsetup create m0 --table "0 $(blockdev --getsz /dev/vdc) linear /dev/vdc 0" && dmsetup mknodes && mount -t ext4 /dev/mapper/m0 /mars' ||
    fail "/mars on m0"
}
# write_blocks WORD: WORD NNNNNNNN into each of blocks 0..63 with fsync; prints the
# numbers of the writes that failed.
write_blocks() {
  on node1 "i=0; while [ \$i -lt 64 ]; do printf '$1 %08d\n' \$i | dd of=/dev/mars/r0 bs=4096 seek=\$i conv=sync,fsync status=none 2>/dev/null || echo \$i; i=\$((i + 1)); done"
}

# restore: node1 as every scenario finds it, /mars on /dev/vdc (also after a failure).
restore() {
  on node1 'marsadm down r0 2>/dev/null; rmmod mars 2>/dev/null; umount /mars 2>/dev/null; dmsetup remove m0 2>/dev/null
    mkfs.ext4 -q -F /dev/vdc && mount -t ext4 /dev/vdc /mars && modprobe mars'
}
trap 'restore >/dev/null 2>&1' EXIT

fresh_modules node1
zero_disks vda node1
on node1 'rmmod mars && umount /mars' || fail "unmounting /mars"
on node1 'mkfs.ext4 -q -F /dev/vdc' || fail "mkfs /mars"
mount_mars
on node1 "modprobe mars && echo $POLICY > /proc/sys/mars/mars_broken_fails_writes" || fail "loading mars"
on node1 'marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vda >/dev/null && marsadm wait-resource r0 --until primary --timeout 30' ||
  fail "create-resource"

step "A written back and recorded, then A2 over it (logged)"
[ -z "$(write_blocks A)" ] || fail "writing A"
sleep 3
on node1 'sync; readlink /mars/resource-r0/replay-node1'
[ -z "$(write_blocks A2)" ] || fail "writing A2"

step "/mars refuses writes; B over the same blocks (mars_broken_fails_writes = $POLICY)"
mars_table node1 flakey /dev/vdc 0 0 3600 1 error_writes
failed=" $(write_blocks B | tr '\n' ' ')"
echo "B writes that failed:$failed"
on node1 'dmesg | grep "mars:" | tail -4'
if [ "$POLICY" = 1 ]; then
  on node1 'dmesg | grep -q "writes fail until logging resumes"' || fail "no kernel message that writes fail"
fi

step "crash; /mars works again at boot; recovery"
tb crash node1
tb start node1 >/dev/null
mount_mars
on node1 'modprobe mars && marsadm wait-resource r0 --until primary --timeout 60' || fail "r0 did not come back: $(on node1 'marsadm view r0')"
on node1 'dmesg | grep "mars:.*recover" | tail -2' || true
got=$(on node1 'i=0; while [ $i -lt 64 ]; do dd if=/dev/mars/r0 bs=4096 skip=$i count=1 iflag=direct status=none | head -c 2 | tr -d " "; echo; i=$((i + 1)); done')
i=0
for word in $got; do
  case "$failed" in
    *" $i "*) [ "$word" = A2 ] || [ "$word" = B ] || fail "block $i: its B write failed, reads '$word' (A2 acknowledged before)" ;;
    *) [ "$word" = B ] || fail "block $i: acknowledged B, reads $word" ;;
  esac
  i=$((i + 1))
done
[ "$i" = 64 ] || fail "read $i blocks, not 64"
echo "all 64 blocks read as their last acknowledged write"
trap - EXIT
restore || fail "restoring /mars on /dev/vdc"
