#!/usr/bin/env bash
# A cluster upgrades across a wire protocol version one host at a time, with planned
# handovers in between (docu/migration.md, "Upgrading this implementation"). node2 runs
# the previous release: mars.ko and marsadm of the last commit of the previous protocol
# (testing/previous-protocol, built from the history by scripts/build-previous.sh);
# node1 runs this checkout's. node2 joins and syncs from node1 (its old clients talk to
# node1's servers, which answer in the old version), node1 falls back to the old
# version as a client (the kernel log says so once), r0 is handed over to node2 and
# back with writes replicated each way; then node2 is upgraded as the page says and
# the two replicate and hand over in the new version. The disks end equal.
source "$(dirname "$0")/../lib.sh"

DISK=vda
PREV=$TESTING/../build/previous
[ -e "$PREV/mars.ko" ] && [ -e "$PREV/marsadm" ] && [ -e "$PREV/protocol" ] ||
  fail "no build of the previous protocol in $PREV: make all builds it (scripts/build-previous.sh)"
old=$(cat "$PREV/protocol")
new=$(sed -n 's/^pub const PROTOCOL_VERSION: u16 = \([0-9]*\);/\1/p' "$TESTING/../kernel/core/src/wire.rs")
assert_eq $((new - 1)) "$old" "the previous build's protocol (this checkout speaks $new)"

# restore: node2 runs this checkout's marsadm and module again (also when a step fails).
restore() { on node2 'test ! -e /root/marsadm.new || cp /root/marsadm.new /usr/sbin/marsadm' >/dev/null 2>&1 || true; }
trap restore EXIT

version_on() { on "$1" 'marsadm version' | sed -n 's/^mars.ko //p'; }

step "node1 runs this checkout (protocol $new), node2 the previous release (protocol $old)"
fresh_modules node1
on node2 'umount /mnt/r0 2>/dev/null; rmmod mars 2>/dev/null; rm -rf /mars/*; cp /usr/sbin/marsadm /root/marsadm.new' ||
  fail "node2: unloading mars"
tb push node2 "$PREV/marsadm" /usr/sbin/marsadm
tb push node2 "$PREV/mars.ko" /root/mars-previous.ko
on node2 'insmod /root/mars-previous.ko' || fail "node2: loading the previous mars.ko"
v1=$(version_on node1) v2=$(version_on node2)
echo "node1: mars.ko $v1, node2: mars.ko $v2"
[ -n "$v2" ] && [ "$v1" != "$v2" ] || fail "node2 does not run another release than node1 ($v1, $v2)"

step "node2 (old) joins node1's cluster and r0, and syncs from node1"
zero_disks "$DISK" node1 node2
create_r0 /dev/$DISK
write_block node1 3
join_cluster node2
on node2 "marsadm join-resource r0 /dev/$DISK" >/dev/null || fail "join-resource on node2"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 (old) did not sync: $(on node2 'marsadm view r0')"
write_block node1 10
retry 60 caught_up node1 node2 || fail "node2 (old) did not replay node1's write: $(on node2 'marsadm view r0')"
# node1 pulls node2's tree every 2 s: its metadata client falls back.
fell_back() { on node1 "dmesg | grep -q 'speaks protocol $old, not $new: talking $old with it'"; }
retry 30 fell_back ||
  fail "node1 did not say that it fell back to protocol $old: $(on node1 'dmesg | grep mars | tail -5')"
echo "node1: $(on node1 "dmesg | grep -m1 'speaks protocol $old'")"

step "handover to node2 (old primary): node1 fetches from it in protocol $old"
on node2 'marsadm primary r0' || fail "handover to node2: $(on node2 'marsadm view r0')"
write_block node2 20
retry 60 caught_up node2 node1 || fail "node1 did not replay node2's write: $(on node1 'marsadm view r0')"

step "handover back to node1"
on node1 'marsadm primary r0' || fail "handover to node1: $(on node1 'marsadm view r0')"
write_block node1 30
retry 60 caught_up node1 node2 || fail "node2 (old) did not replay node1's write after the handover back"

step "node2 is upgraded as docu/migration.md says, while node1 writes on"
on node2 'marsadm down all' || fail "down all on node2"
write_block node1 40
on node2 'cp /root/marsadm.new /usr/sbin/marsadm && rmmod mars && modprobe mars' || fail "upgrading node2"
on node2 'marsadm up all' || fail "up all on node2"
assert_eq "$v1" "$(version_on node2)" "node2's mars.ko after the upgrade"
write_block node1 50
retry 60 caught_up node1 node2 || fail "node2 (upgraded) did not catch up: $(on node2 'marsadm view r0')"
# node2 offers protocol $new and node1 answers in it: no fallback on node2's side.
if on node2 "dmesg | grep 'speaks protocol'"; then fail "node2 (upgraded) fell back"; fi

step "both upgraded: handover to node2 and back"
on node2 'marsadm primary r0' || fail "handover to node2 after the upgrade"
write_block node2 60
retry 60 caught_up node2 node1 || fail "node1 did not replay node2's write after the upgrade"
on node1 'marsadm primary r0' || fail "handover to node1 after the upgrade"
write_block node1 70
retry 60 caught_up node1 node2 || fail "node2 did not replay node1's last write"
for n in node2 node1; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks "$DISK" node1 node2
echo ok
