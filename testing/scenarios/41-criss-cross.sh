#!/usr/bin/env bash
# Criss-cross (docu/cluster.md "Several resources per host"): r0 on vda with primary
# node1, r1 on vdd with primary node2, each replicated to the other node; both take
# writes at once. A planned handover of r0 to node2 (after node1's writer stopped) does
# not disturb r1: r1 stays primary on node2 and its writes keep succeeding, node1 stays
# its secondary, fetching and replaying; at the end every disk equals its primary's.
source "$(dirname "$0")/../lib.sh"

# writes NODE RES FIRST COUNT: COUNT writes of 64 KiB of random data to /dev/mars/RES,
# each fsync'ed, at blocks FIRST, FIRST+1, ... (modulo 512: the first 32 MiB).
writes() {
  on "$1" "i=$3; while [ \$i -lt $(($3 + $4)) ]; do
    dd if=/dev/urandom of=/dev/mars/$2 bs=65536 count=1 seek=\$((i % 512)) conv=fsync status=none || exit 1
    i=\$((i + 1)); done"
}
replay_pos() { on "$1" "readlink /mars/resource-$2/replay-$1"; }
is() { on "$1" "readlink /mars/resource-$2/actual-$1/is-$3"; }

step "node1 creates r0 on vda, node2 creates r1 on vdd; each joins the other's"
fresh_modules node1 node2
zero_disks vda node1 node2
zero_disks vdd node1 node2
create_r0 /dev/vda
join_cluster node2
on node2 'marsadm create-resource r1 /dev/vdd >/dev/null' || fail "create-resource r1 on node2"
on node2 'marsadm wait-resource r1 --until primary --timeout 30' || fail "node2 not primary of r1"
on node1 'marsadm wait-resource r1 --timeout 30' || fail "node1 does not know r1"
on node2 'marsadm join-resource r0 /dev/vda >/dev/null' || fail "join-resource r0 on node2"
on node1 'marsadm join-resource r1 /dev/vdd >/dev/null' || fail "join-resource r1 on node1"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 180' || fail "node2 not UpToDate in r0: $(on node2 'marsadm view r0')"
on node1 'marsadm wait-resource r1 --until uptodate --timeout 180' || fail "node1 not UpToDate in r1: $(on node1 'marsadm view r1')"
on node1 'marsadm view all'
on node2 'marsadm view all'

step "both primaries write at once"
# node2 writes r1 until told to stop (through the handover of r0), counting its writes.
on node2 'rm -f /tmp/stop-r1 /tmp/r1-writes; i=0
  while [ ! -e /tmp/stop-r1 ]; do
    dd if=/dev/urandom of=/dev/mars/r1 bs=65536 count=1 seek=$((i % 512)) conv=fsync status=none || exit 1
    i=$((i + 1)); echo $i > /tmp/r1-writes; done' &
r1_writer=$!
writes node1 r0 0 100 || fail "writes to r0 on node1 failed"
r1_before=$(on node2 'cat /tmp/r1-writes')
echo "node1 wrote 100 blocks to r0 while node2 wrote $r1_before to r1"
[ "$r1_before" -gt 0 ] || fail "node2 has not written to r1 while node1 wrote to r0"

step "planned handover of r0 to node2 while node2 writes r1"
dmesg_from() { on "$1" 'dmesg | wc -l'; }
lines1=$(dmesg_from node1) lines2=$(dmesg_from node2)
on node2 'marsadm primary r0' || fail "handover of r0 to node2 failed: $(on node2 'marsadm view r0')"
assert_eq 1 "$(is node2 r0 primary)" "node2 is primary of r0"
on node1 'marsadm --timeout 20 wait-resource r0 is-primary-off' || fail "node1 still primary of r0"
on node1 'marsadm wait-resource r0 --until consistent --timeout 60' || fail "node1 not consistent in r0: $(on node1 'marsadm view r0')"
assert_eq 1 "$(is node2 r1 primary)" "node2 still primary of r1"
assert_eq node2 "$(on node1 'readlink /mars/resource-r1/primary')" "r1's primary as node1 sees it"
for a in attached fetching replaying; do
  assert_eq 1 "$(is node1 r1 "$a")" "node1's r1 is-$a after the handover of r0"
done
kill -0 $r1_writer 2>/dev/null || fail "node2's writer to r1 stopped during the handover"
# r1 replicates on: node1's replay position of r1 moves on while node2 writes.
pos=$(replay_pos node1 r1)
retry 60 bash -c "[ \"\$($TB exec node1 -- readlink /mars/resource-r1/replay-node1)\" != '$pos' ]" ||
  fail "node1 does not replay r1 any more: $pos; $(on node1 'marsadm view r1')"
# Nothing of r1 changed its role or attachment on either node during the handover.
for n in node1 node2; do
  from=$([ $n = node1 ] && echo "$lines1" || echo "$lines2")
  r1_msgs=$(on $n "dmesg | tail -n +$((from + 1)) | grep 'resource r1:' || true")
  [ -z "$r1_msgs" ] || echo "$n dmesg about r1 during the handover: $r1_msgs"
  grep -qE 'left the primary role|detached|primary now|attached' <<<"$r1_msgs" && fail "r1 was disturbed on $n: $r1_msgs"
done

step "node2 writes r0 as its new primary while r1's writes go on"
writes node2 r0 100 60 || fail "writes to r0 on node2 failed"
on node2 'touch /tmp/stop-r1'
wait $r1_writer || fail "node2's writes to r1 failed"
r1_after=$(on node2 'cat /tmp/r1-writes')
echo "node2 wrote $r1_after blocks to r1 in all ($((r1_after - r1_before)) after node1's writes to r0)"
[ "$r1_after" -gt "$r1_before" ] || fail "no writes to r1 succeeded during and after the handover"
on node1 'marsadm view all'
on node2 'marsadm view all'

step "every disk equals its primary's"
on node1 'marsadm wait-resource all --until uptodate --timeout 180' || fail "node1 not UpToDate: $(on node1 'marsadm view all')"
for r in r0 r1; do
  retry 60 caught_up -r $r node2 node1 ||
    fail "$r: replay links differ: $(replay_pos node1 $r) vs $(replay_pos node2 $r)"
done
on node1 'marsadm down all' || fail "down all on node1"
on node2 'marsadm down all' || fail "down all on node2"
same_disks vda node1 node2
same_disks vdd node1 node2
echo "ok"
