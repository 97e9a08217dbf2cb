#!/usr/bin/env bash
# Logfile rotation and deletion loops during writes (design reference §9.2 C), and a
# network cut of several seconds during writes (§9.2 E): replication stays correct
# (node2 follows across logfiles, the disks end equal), no role changes, and /mars
# stays bounded once `cron` has run on both members.
source "$(dirname "$0")/../lib.sh"

fresh_modules node1 node2
create_r0
join_cluster node2
on node2 'marsadm join-resource r0 /dev/vdb >/dev/null'

uptodate() { [ "$(view_field node2 diskstate)" = UpToDate ]; }
logfiles() { on "$1" 'ls /mars/resource-r0 | grep -c "^log-"'; }
# writes FIRST MAX: numbered 256 KiB blocks of random data on node1, each fsync'ed, from
# block FIRST on, until `stop_writes` (or MAX blocks); prints how many it wrote. The
# writer runs for as long as the rotations (or the cut) go on, however slow the node.
writes() {
  on node1 "rm -f /tmp/stop-writes; i=$1; while [ \$i -lt $(($1 + $2)) ] && [ ! -e /tmp/stop-writes ]; do
    head -c 262144 /dev/urandom | dd of=/dev/mars/r0 bs=256k seek=\$((i % 1600)) conv=fsync status=none || exit 1
    i=\$((i + 1)); done; echo \$((i - $1)) > /tmp/written"
}
stop_writes() { on node1 'touch /tmp/stop-writes'; }
written_kib() { echo $(( $(on node1 'cat /tmp/written') * 256 )); }
retry 120 uptodate || fail "node2 not UpToDate after joining: $(on node2 'marsadm view r0')"

step "log-rotate and cron loops while node1 writes"
writes 0 320 &
writer=$!
for round in 1 2 3 4 5 6; do
  sleep 2
  on node1 'marsadm log-rotate r0 >/dev/null' || fail "log-rotate, round $round"
  for n in node1 node2; do on $n 'marsadm cron >/dev/null' || fail "cron on $n, round $round"; done
done
stop_writes
wait $writer || fail "writing on node1 failed"
kib=$(written_kib)
echo "node1 wrote $kib KiB during the rotations"
newest=$(on node1 'ls /mars/resource-r0 | grep "^log-" | tail -1')
echo "newest logfile: $newest"
[ "${newest#log-}" != "000000001-node1" ] || fail "no rotation happened"
retry 120 uptodate || fail "node2 not UpToDate after rotations: $(on node2 'marsadm view r0')"
on node2 'marsadm view r0'
# Once the writer stopped: rotate once more; when node2 replays the new (empty) logfile,
# cron on both leaves nothing but it.
on node1 'marsadm log-rotate r0 >/dev/null'
newest=$(on node1 'ls /mars/resource-r0 | grep "^log-" | tail -1')
# (as both members see it: the replay links propagate)
for n in node1 node2; do
  retry 60 on $n "readlink /mars/resource-r0/replay-node2 | grep -q '^$newest,'" ||
    fail "$n does not see node2 on $newest: $(on $n 'readlink /mars/resource-r0/replay-node2')"
done
for n in node1 node2; do on $n 'marsadm cron'; done
for n in node1 node2; do
  count=$(logfiles $n)
  used=$(on $n 'du -sk /mars | cut -f1')
  echo "$n after cron: $count logfile(s), /mars uses $used KiB ($kib KiB were written)"
  assert_eq 1 "$count" "logfiles on $n after cron"
  [ "$used" -lt 10000 ] || fail "$n: /mars uses $used KiB after cron"
done
grep -q "rotated from logfile" <<<"$(on node1 dmesg)" || fail "no rotation logged"

step "network cut for several seconds during writes, then heal"
writes 1000 160 &
writer=$!
sleep 1
tb net cut node1 node2
sleep 8
tb net heal node1 node2
stop_writes
wait $writer || fail "writing on node1 failed during the cut"
echo "node1 wrote $(written_kib) KiB around the cut"
assert_eq 1 "$(on node1 'marsadm view-is-primary r0')" "node1 still primary"
assert_eq 0 "$(on node2 'marsadm view-is-primary r0')" "node2 still secondary"
# Caught up once node2's replay position reaches the end of node1's logfile, judged on
# the logfile itself: right after the heal node2's view of node1 may be seconds old
# (its metadata pulls back off during the cut), so UpToDate alone may come too early.
log=$(on node1 'readlink /mars/resource-r0/replay-node1 | cut -d, -f1')
end=$(log_end node1 /mars/resource-r0/$log)
retry 120 on node2 "l=\$(readlink /mars/resource-r0/replay-node2) && [ \"\${l%%,*}\" = $log ] && [ \$(echo \$l | cut -d, -f2) -ge $end ]" ||
  fail "node2 did not replay $log to its end ($end): $(on node2 'marsadm view r0')"
retry 120 uptodate || fail "node2 did not catch up after the cut: $(on node2 'marsadm view r0')"
echo "node1 writeback-rest before down: $(on node1 'marsadm view-writeback-rest r0')"

step "after down on both, the disks are equal"
for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
retry 30 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-attached)" = 0' || fail "node2 still attached"
same_disks vdb node1 node2
