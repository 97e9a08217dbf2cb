#!/usr/bin/env bash
# One overwrite rule (docu/cluster.md): a merge that decided to take a peer's link must
# not replace a newer link an operator's marsadm wrote meanwhile. node1's merges of
# entries any member writes are held for 6 s between reading the local link and
# replacing it (the test-only tunable test_merge_delay_ms); node2 sets r0's systemd
# unit to a.service, and while node1's merge of it waits, the network between the two
# is cut (so neither can repair the other afterwards) and node1's operator sets
# b.service: newer. node1 must keep b.service, and once the network heals node2 must
# take it too. Without the check under the directory's lock (the `expect` of
# mars_vfs_rename_in), node1's merge put node2's older a.service over b.service, which
# then existed on no host: checked once with the check removed.
source "$(dirname "$0")/../lib.sh"
DISK=vda

replicated_r0
unit() { on "$1" 'readlink /mars/resource-r0/systemd-start-unit'; }
retry 60 on node2 'test -d /mars/resource-r0' || fail "node2 does not know r0"

step "node1's merges of operator entries wait 6 s; node2 sets a.service"
on node1 'dmesg -c >/dev/null; echo 6000 > /proc/sys/mars/test_merge_delay_ms' || fail "setting test_merge_delay_ms"
on node2 'marsadm set-systemd-unit r0 a.service >/dev/null 2>&1' || fail "set-systemd-unit on node2"
retry 60 on node1 "dmesg | grep -q 'merge of \"resource-r0/systemd-start-unit\" from node2 waits'" ||
  fail "node1 did not start merging node2's unit"

step "while node1's merge waits: the network is cut, node1's operator sets b.service"
tb net cut node1 node2
on node1 'marsadm set-systemd-unit r0 b.service >/dev/null 2>&1' || fail "set-systemd-unit on node1"
assert_eq b.service "$(unit node1)" "node1's unit right after its operator set it"
sleep 8
assert_eq b.service "$(unit node1)" "node1's unit after its merge of node2's older a.service"

step "the network heals: node2 takes b.service"
on node1 'echo 0 > /proc/sys/mars/test_merge_delay_ms'
tb net heal node1 node2
node2_has_b() { [ "$(unit node2)" = b.service ]; }
retry 60 node2_has_b || fail "node2's unit is $(unit node2), not b.service"
assert_eq b.service "$(unit node1)" "node1's unit at the end"
