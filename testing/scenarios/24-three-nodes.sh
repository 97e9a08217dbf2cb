#!/usr/bin/env bash
# Three members (design reference §9.2): node2 and node3 join while node1 writes files
# on xfs and both become UpToDate with replay links equal to node1's; a damaged byte in
# node3's copy of a logfile is found by replay and fetched again; leave-resource; after
# `down` everywhere the three disks are equal.
source "$(dirname "$0")/../lib.sh"

tb up --nodes 3 >/dev/null
fresh_modules node1 node2 node3
create_r0
on node1 'mkfs.xfs -q -f /dev/mars/r0 && mkdir -p /mnt/r0 && mount /dev/mars/r0 /mnt/r0'
join_cluster node2 node3

# files FIRST COUNT: COUNT files of 256 KiB under /mnt/r0 on node1, each fsync'ed.
files() {
  on node1 "i=$1; while [ \$i -lt $(($1 + $2)) ]; do
    head -c 262144 /dev/urandom > /mnt/r0/f\$i && sync /mnt/r0/f\$i || exit 1
    i=\$((i + 1)); done"
}
replay_link() { on "$1" "readlink /mars/resource-r0/replay-$1"; }

step "node2 and node3 join while node1 writes files"
files 0 20
files 20 60 &
writer=$!
for n in node2 node3; do on $n 'marsadm join-resource r0 /dev/vdb >/dev/null' || fail "join-resource on $n"; done
wait $writer || fail "writing files on node1 failed"
for n in node2 node3; do
  on $n 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "$n not UpToDate: $(on $n 'marsadm view r0')"
  on $n 'marsadm view r0'
done

step "a damaged byte in node3's copy of the logfile is fetched again"
on node3 'marsadm pause-replay r0 >/dev/null'
retry 10 on node3 'test "$(readlink /mars/resource-r0/actual-node3/is-replaying)" = 0' || fail "replay still running"
files 80 20
retry 60 on node3 'test "$(marsadm view-fetch-rest r0)" = 0' || fail "node3 did not fetch"
link=$(replay_link node3)
log=${link%%,*}
start=$(cut -d, -f2 <<<"$link")
size=$(on node3 "stat -c %s /mars/resource-r0/$log")
[ "$size" -gt "$start" ] || fail "nothing to replay on node3 ($link, size $size)"
at=$(( start + (size - start) / 2 ))
echo "corrupting $log on node3 at byte $at (replayed to $start of $size)"
# (a byte that differs from the one there: X, or Y where the log holds an X)
on node3 "f=/mars/resource-r0/$log; c=\$(dd if=\$f bs=1 skip=$at count=1 status=none | od -An -tx1 | tr -d ' ')
  v=X; [ \"\$c\" = 58 ] && v=Y; printf \$v | dd of=\$f bs=1 seek=$at conv=notrunc status=none"
on node3 'marsadm resume-replay r0 >/dev/null'
on node3 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node3 not UpToDate after repair: $(on node3 'marsadm view r0')"
on node3 'dmesg | grep -q "damaged at byte"' ||
  fail "damage not reported (replay link $(replay_link node3)): $(on node3 'dmesg | grep -a "resource r0" | tail -n 8' | tr '\n' ';')"
on node3 'dmesg | grep -q "fetching it again"' || fail "re-fetch not reported"
# The repaired copy equals node1's logfile as far as it goes (node1's xfs may append
# more records meanwhile, and node3 fetches them: both sides hash the same length).
same_prefix() {
  local f=/mars/resource-r0/$log n
  n=$(on node3 "stat -c %s $f")
  [ "$(on node1 "head -c $n $f | sha256sum")" = "$(on node3 "head -c $n $f | sha256sum")" ]
}
retry 30 same_prefix || fail "node3's repaired copy of $log differs from node1's"

step "quiet: replay links equal on all three"
on node1 'umount /mnt/r0'
for n in node2 node3; do
  retry 60 caught_up node1 $n ||
    fail "replay links differ: $(replay_link node1) vs $(replay_link $n)"
done
echo "replay links: $(replay_link node1) = $(replay_link node2) = $(replay_link node3)"

step "after down everywhere the disks are equal; node3 leaves"
for n in node1 node2 node3; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks vdb node1 node2 node3
on node3 'marsadm leave-resource r0' || fail "leave-resource"
retry 30 on node1 'test ! -e /mars/resource-r0/data-node3 || test "$(readlink /mars/resource-r0/data-node3)" = .deleted' ||
  fail "node1 still counts node3 as a member"
expect_status 1 on node1 'marsadm leave-resource r0'
