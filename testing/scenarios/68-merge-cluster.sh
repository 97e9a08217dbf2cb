#!/usr/bin/env bash
# merge-cluster (docu/cluster.md, "Merging two clusters"): node1's cluster holds r0,
# node2's own cluster r1. A resource name both use is refused (check and merge, nothing
# changed); a wrong secret gets nothing. Then node2 merges into node1's cluster: it takes
# node1's secret (its old one still accepted) and uuid, both see both resources, node1
# joins r1 and syncs it from node2, writes replicate, node2 finishes the rotation, and
# the disks of r1 end equal. The operator's links (set-link, get-link, delete-file)
# travel both ways. Then the original's low-level commands: lowlevel-ls-host-ips,
# (get-)emergency-limit, the sync limit, and lowlevel-delete-host (refused while node2
# is member of r1; once node2 gave r1 up and went, node1 forgets it; back, it registers
# again, as a member still running does at its next pull).
source "$(dirname "$0")/../lib.sh"

key1() { on node1 'cat /mars/cluster.key'; }

step "node2's cluster has a resource r0 too: refused"
fresh_modules node1 node2
zero_disks vdd node1 node2
create_r0 /dev/vda
on node2 'marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vde >/dev/null' || fail "node2's own cluster"
on node2 "echo $(key1) > /root/a.key"
b_uuid=$(on node2 'readlink /mars/uuid')
out=$(on node2 'marsadm merge-cluster-check node1 --secret-file /root/a.key 2>&1'; echo "status $?")
case "$out" in *"resource r0 is in both clusters (members here: node2; there: node1)"*"status 1") ;; *) fail "merge-cluster-check: $out" ;; esac
expect_status 1 on node2 'marsadm merge-cluster node1 --secret-file /root/a.key'
assert_eq "$b_uuid" "$(on node2 'readlink /mars/uuid')" "node2's uuid after a refused merge"
on node2 'test ! -e /mars/cluster.key.old' || fail "a refused merge installed a key"

step "node2 starts anew with r1; a wrong secret gets nothing"
fresh_modules node2
on node2 'marsadm create-cluster >/dev/null && marsadm create-resource r1 /dev/vdd >/dev/null' || fail "node2's own cluster"
on node2 'marsadm wait-resource r1 --until primary --timeout 30' || fail "node2 not primary of r1"
on node2 'dd if=/dev/urandom of=/dev/mars/r1 bs=1M count=4 oflag=direct status=none' || fail "write r1 on node2"
b_uuid=$(on node2 'readlink /mars/uuid') b_key=$(on node2 'cat /mars/cluster.key')
out=$(on node2 'marsadm merge-cluster-check node1 --secret-file /mars/cluster.key 2>&1'; echo "status $?")
case "$out" in *"cannot read node1's tree"*"status 6") ;; *) fail "merge-cluster-check with node2's own secret: $out" ;; esac
on node2 'marsadm merge-cluster-check node1 --secret-file /root/a.key' | grep -q "can merge" || fail "merge-cluster-check"
on node2 'marsadm --dry-run merge-cluster node1 --secret-file /root/a.key' || fail "merge-cluster --dry-run"
assert_eq "$b_uuid" "$(on node2 'readlink /mars/uuid')" "node2's uuid after --dry-run"

step "node2 merges into node1's cluster"
on node2 'marsadm merge-cluster node1 --secret-file /root/a.key' || fail "merge-cluster"
assert_eq "$(on node1 'readlink /mars/uuid')" "$(on node2 'readlink /mars/uuid')" "the uuid on both"
assert_eq "$(key1)" "$(on node2 'cat /mars/cluster.key')" "node2's current key"
assert_eq "$b_key" "$(on node2 'cat /mars/cluster.key.old')" "node2's old key"
on node2 'marsadm merge-cluster node1 --secret-file /root/a.key' | grep -q "in this cluster .* already" || fail "a second merge-cluster"
on node1 'marsadm wait-resource r1 --timeout 30' || fail "node1 does not know r1"
on node2 'marsadm wait-resource r0 --timeout 30' || fail "node2 does not know r0"
on node1 'marsadm merge-cluster-list' | grep -qx "resource r1 node2" || fail "merge-cluster-list on node1: $(on node1 'marsadm merge-cluster-list')"
assert_eq node2 "$(on node1 'marsadm view-get-primary r1')" "r1's primary as node1 sees it"

step "node1 joins r1 and syncs it from node2; writes replicate"
on node1 'marsadm join-resource r1 /dev/vdd >/dev/null' || fail "join-resource r1 on node1"
on node1 'marsadm wait-resource r1 --until uptodate --timeout 180' || fail "node1 not UpToDate in r1: $(on node1 'marsadm view r1')"
on node2 'dd if=/dev/urandom of=/dev/mars/r1 bs=1M count=2 seek=8 oflag=direct status=none' || fail "write r1 on node2"
retry 60 caught_up -r r1 node2 node1 || fail "node1 did not replay r1: $(on node1 'marsadm view r1')"
on node2 'marsadm rotate-secret --finish' || fail "rotate-secret --finish on node2"
on node2 'test ! -e /mars/cluster.key.old' || fail "node2 still holds its old key"
on node2 'marsadm wait-cluster --timeout 20' || fail "node2 does not hear node1 after the rotation"

step "the operator's links: set on one member, seen on the other, deleted"
on node2 "marsadm set-link 'moving r1 to node1' /mars/userspace/football" || fail "set-link on node2"
on node1 'marsadm set-link 42 resource-r1/userspace/round' || fail "set-link on node1"
retry 20 on node1 'test "$(marsadm get-link /mars/userspace/football)" = "moving r1 to node1"' || fail "node1 does not see node2's userspace link"
retry 20 on node2 'test "$(marsadm get-link /mars/resource-r1/userspace/round)" = 42' || fail "node2 does not see node1's link of r1"
expect_status 2 on node1 'marsadm set-link node1 /mars/resource-r1/primary'
on node2 'marsadm delete-file /mars/userspace/football' || fail "delete-file on node2"
retry 20 on node1 'test -z "$(marsadm get-link /mars/userspace/football)"' || fail "the deletion did not reach node1"

step "the original's low-level commands: ls-host-ips, limits, delete-host refused"
assert_eq "node1 10.77.0.1 node2 10.77.0.2" "$(on node1 'marsadm lowlevel-ls-host-ips' | tr '\n' ' ' | sed 's/ $//')" "lowlevel-ls-host-ips on node1"
on node1 'marsadm set-emergency-limit r1 30' || fail "set-emergency-limit"
assert_eq 30 "$(on node1 'marsadm emergency-limit r1')" "node1's emergency limit of r1"
on node1 'marsadm set-global-sync-limit-value 3' || fail "set-global-sync-limit-value"
assert_eq 3 "$(on node1 'marsadm get-sync-limit-value')" "node1's sync limit"
expect_status 1 on node1 'marsadm lowlevel-delete-host node2'

step "down on both: r1's disks are equal"
on node1 'marsadm down r1' || fail "down r1 on node1"
on node2 'marsadm down r1' || fail "down r1 on node2"
same_disks vdd node1 node2

step "node2 gives up r1 and goes; node1 deletes it from the cluster"
on node1 'marsadm leave-resource r1' || fail "leave-resource r1 on node1"
retry 20 on node2 '! test -e /mars/resource-r1/data-node1' || fail "node2 still sees node1 in r1"
on node2 'marsadm delete-resource r1' || fail "delete-resource r1 on node2"
retry 20 on node1 '! test -e /mars/resource-r1/data-node2' || fail "node1 still sees node2 in r1"
on node2 'rmmod mars' || fail "rmmod on node2"
on node1 "marsadm lowlevel-delete-host node2" || fail "lowlevel-delete-host node2 on node1"
sleep 4 # two pull rounds
assert_eq .deleted "$(on node1 'readlink /mars/ips/ip-node2')" "node2's address on node1"
assert_eq "node1 10.77.0.1" "$(on node1 'marsadm lowlevel-ls-host-ips')" "lowlevel-ls-host-ips after the deletion"
on node1 'marsadm wait-cluster --timeout 10' || fail "wait-cluster on node1 waits for a deleted host"

step "node2 comes back: it registers again"
on node2 'modprobe mars' || fail "modprobe on node2"
retry 20 on node1 'test "$(readlink /mars/ips/ip-node2)" = 10.77.0.2' || fail "node2 not registered again on node1"
echo ok
