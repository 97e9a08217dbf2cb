#!/usr/bin/env bash
# A designation the old primary hears late must not fork the history (docu/failover.md,
# "A designation heard late"). node1, primary, gives way to a designation of node2 and
# leaves; node2 has its final links. Then, partitioned, node1 hears an older designation
# naming itself (as a pull can bring one written before it left), takes the role back
# on its own logfile and logs a write; node2 is designated once more, by a newer link.
# node2 must not take over from node1's links of before (that started a logfile 2 of
# its own beside node1's: two histories, found in scenario 30 on mixed kernels); it
# waits for node1 to answer the newer designation (takeover-wait NoFinalPosition).
# After the partition heals, node1 gives way, node2 replays node1's write and takes
# over after it: one history, no split brain, the write on node2's disk.
source "$(dirname "$0")/../lib.sh"

DISK=vda
heal() { tb net heal node1 node2 2>/dev/null || true; }
trap heal EXIT

replicated_r0
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate after its sync"

# designate NODE HOST [SECONDS-AGO]: the `primary` link on NODE set to HOST by hand
# (a script writing the tree), its mtime SECONDS-AGO in the past, as a link pulled late
# carries the stamp it was written with.
designate() {
  on "$1" "cd /mars/resource-r0 && ln -sfn $2 .primary.new && touch -h -d @\$((\$(date +%s) - ${3:-0})) .primary.new &&
    mv -fT .primary.new primary && echo 1 > /proc/sys/mars/trigger"
}
is_primary() { on "$1" "readlink /mars/resource-r0/actual-$2/is-primary"; }
block() { on "$1" "dd if=/dev/mars/r0 bs=65536 skip=$2 count=1 iflag=direct status=none | md5sum"; }
# role_is VALUE NODE HOST: NODE's copy of HOST's is-primary is VALUE.
role_is() { [ "$(is_primary "$2" "$3")" = "$1" ]; }

step "node2 detached; node1 gives way to a designation of node2 and leaves"
on node2 'marsadm down r0' || fail "down on node2"
designate node1 node2
retry 20 role_is 0 node1 node1 || fail "node1 did not leave"
retry 20 role_is 0 node2 node1 || fail "node2 did not hear node1 leave"
sleep 4 # two pull rounds: node2 has node1's final links

step "partitioned: node1 hears an older designation of itself, takes the role back, logs a write"
tb net cut node1 node2
designate node1 node1 5
retry 20 role_is 1 node1 node1 ||
  fail "node1 did not take the role back: $(on node1 'marsadm view r0')"
write_block node1 7 || fail "write on node1"
want=$(block node1 7)

step "node2 designated again, newer: it waits for node1 to answer that designation"
designate node2 node2
on node2 'marsadm up r0' || fail "up on node2"
retry 20 on node2 'test "$(readlink /mars/resource-r0/actual-node2/takeover-wait)" = NoFinalPosition' ||
  fail "node2 does not wait for node1's final links: $(on node2 'marsadm view r0')"
sleep 6
assert_eq 0 "$(is_primary node2 node2)" "node2's is-primary while node1's links are from before the designation"
on node2 'ls /mars/resource-r0 | grep -q "^log-000000002-node2$"' && fail "node2 started a logfile 2 of its own"

step "healed: node1 gives way, node2 replays node1's write and takes over after it"
tb net heal node1 node2
retry 60 role_is 1 node2 node2 ||
  fail "node2 did not take over after the heal: $(on node2 'marsadm view r0')"
assert_eq 0 "$(is_primary node1 node1)" "node1's is-primary"
for n in node1 node2; do
  retry 20 on $n 'test "$(marsadm view-is-split-brain r0)" = 0' || fail "split brain on $n: $(on $n 'marsadm view r0')"
done
assert_eq "$want" "$(block node2 7)" "node1's write during the partition, on node2"
on node2 'ls /mars/resource-r0 | grep "^log-"'
write_block node2 9 || fail "write on node2"
retry 60 caught_up node2 node1 || fail "node1 does not follow node2: $(on node1 'marsadm view r0')"
for n in node2 node1; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks "$DISK" node1 node2
echo ok
