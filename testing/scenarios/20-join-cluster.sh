#!/usr/bin/env bash
# Cluster membership over the metadata port (7777): join-cluster needs the cluster's
# secret (a wrong one gets nothing); node2 joins node1's cluster and both trees converge
# (uuid, ips, a resource created on node1); wait-cluster sees who answers, leave-cluster
# removes a member; malformed frames are refused with a log line; a node of a foreign
# cluster (another secret) can neither read from nor inject links into the cluster.
source "$(dirname "$0")/../lib.sh"

for n in node1 node2; do
  on $n 'rmmod mars 2>/dev/null; rm -rf /mars/*; modprobe mars'
done
on node1 'marsadm create-cluster >/dev/null'
uuid=$(on node1 'readlink /mars/uuid')

step "join-cluster without the secret is refused; with a wrong one, node1 says nothing"
out=$(on node2 'marsadm join-cluster node1 2>&1'; echo "status $?")
case "$out" in *"needs the cluster's secret"*"status 1") ;; *) fail "join-cluster without --secret-file: $out" ;; esac
on node2 'test ! -e /mars/uuid' || fail "join-cluster without a secret changed the tree"
on node2 "echo 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff > /root/wrong.key"
expect_status 6 on node2 'marsadm join-cluster node1 --secret-file /root/wrong.key --timeout 6'
assert_eq "(any)" "$(on node2 'readlink /mars/uuid')" "uuid on node2 after a wrong secret"
on node2 'test ! -e /mars/resource-r0 && test ! -e /mars/actual-node1' || fail "node1 told a host with a wrong secret its tree"
retry 10 on node1 'dmesg | grep -q "metadata: refusing 10.77.0.2: it holds none of our cluster keys"' ||
  fail "node1 did not log the refusal of a wrong secret"
on node2 'rmmod mars; rm -rf /mars/*; modprobe mars'

step "join-cluster: node2 adopts node1's cluster"
join node2 || fail "join-cluster failed"
assert_eq "$uuid" "$(on node2 'readlink /mars/uuid')" "uuid on node2"
assert_eq "10.77.0.1" "$(on node2 'readlink /mars/ips/ip-node1')" "node1's address on node2"
retry 20 on node1 'test "$(readlink /mars/ips/ip-node2)" = 10.77.0.2' || fail "node1 did not learn node2's address"

step "join-cluster refuses bad input and a second cluster"
expect_status 1 on node2 'marsadm join-cluster node1'
expect_status 1 on node1 'marsadm join-cluster node2'
expect_status 1 on node2 'marsadm join-cluster node2'
expect_status 2 on node2 'marsadm join-cluster'

step "links propagate: a resource created on node1 is seen on node2"
on node1 'marsadm create-resource r0 /dev/vdb >/dev/null'
retry 30 on node2 'test "$(readlink /mars/resource-r0/primary)" = node1' || fail "primary link did not reach node2"
assert_eq "$(on node1 'readlink /mars/resource-r0/size')" "$(on node2 'readlink /mars/resource-r0/size')" "size link"
# The Lamport mtime travels with the link.
assert_eq "$(on node1 'stat -c %Y /mars/resource-r0/primary')" "$(on node2 'stat -c %Y /mars/resource-r0/primary')" "mtime of primary"
# A host's own actual-<host>/ state is never overwritten by others.
retry 30 on node2 'test -L /mars/resource-r0/actual-node1/is-primary' || fail "node1's actual state did not reach node2"

step "malformed frames are refused and logged, the server goes on"
on node2 "printf 'GARBAGE-GARBAGE-GARBAGE-GARBAGE' | nc -w 2 10.77.0.1 7777 >/dev/null 2>&1; true"
on node2 "head -c 4096 /dev/urandom | nc -w 2 10.77.0.1 7777 >/dev/null 2>&1; true"
retry 10 on node1 'dmesg | grep -q "metadata: bad frame header"' || fail "no log line for a bad frame"
# A link of node1's own state (docu/cluster.md, "Ownership": only such a name is taken).
on node1 'ln -s probe /mars/actual-node1/probe-link'
retry 30 on node2 'test "$(readlink /mars/actual-node1/probe-link)" = probe' || fail "metadata exchange stopped after bad frames"

step "wait-cluster: members answer; a silent one is named"
on node1 'marsadm wait-cluster --timeout 20' || fail "wait-cluster on node1"
on node2 'marsadm wait-cluster --timeout 20' || fail "wait-cluster on node2"
on node2 'rmmod mars'
expect_status 6 on node1 'marsadm wait-cluster --timeout 3 2>/tmp/wc.err'
on node1 'grep -q "not heard from node2" /tmp/wc.err' || fail "wait-cluster did not name node2: $(on node1 'cat /tmp/wc.err')"
on node2 'modprobe mars'
on node1 'marsadm wait-cluster --timeout 20' || fail "wait-cluster after node2 came back"

step "update-cluster pulls at once, also from a member node1 backs off from"
on node2 'rmmod mars'
# node1's pulls of node2 are refused meanwhile: 2, 4, 8, 16, then 30 s apart.
sleep 40
on node2 'modprobe mars'
start=$SECONDS
on node1 'marsadm update-cluster --timeout 10' || fail "update-cluster after node2 came back: $(on node1 'dmesg | grep -i peer | tail -3')"
echo "update-cluster heard node2 $((SECONDS - start)) s after its module was back"

step "base_port moves the listeners; members with the same base port still talk"
listening() { on "$1" "grep -q ':$2 00000000:0000 0A' /proc/net/tcp"; } # port in hex
for n in node1 node2; do on $n 'echo 8777 > /proc/sys/mars/base_port'; done
for n in node1 node2; do
  for p in 2249 224A 224B; do retry 10 listening $n $p || fail "$n does not listen on port 0x$p"; done
done
listening node1 1E61 && fail "node1 still listens on 7777"
on node1 'marsadm wait-cluster --timeout 20' || fail "no metadata exchange on port 8777"
expect_status 1 on node1 'echo 80 > /proc/sys/mars/base_port'
for n in node1 node2; do on $n 'echo 7777 > /proc/sys/mars/base_port'; done
retry 10 listening node1 1E61 || fail "node1 does not listen on 7777 again"
on node1 'marsadm wait-cluster --timeout 20' || fail "no metadata exchange on port 7777"

step "leave-cluster: refused for a resource member; the others learn of it"
expect_status 1 on node1 'marsadm leave-cluster --timeout 5'
on node2 'marsadm leave-cluster' || fail "leave-cluster on node2"
on node2 'test ! -e /mars/uuid' || fail "node2 still has a cluster uuid"
retry 10 on node1 'test "$(readlink /mars/ips/ip-node2)" = .deleted' || fail "node1 still lists node2"
on node1 'marsadm wait-cluster --timeout 5' || fail "wait-cluster on node1 after node2 left"

step "a foreign cluster can neither read nor inject, though both sides connect"
# node2 starts a cluster of its own and plants links: node1's address (so node2 pulls
# from node1) and a resource. node1 gets node2's address back (it was deleted when node2
# left), so node1 pulls from node2 too. Both directions connect; the key exchange
# (kernel/net/conn.rs: connect and accept) refuses both: the clusters' secrets differ.
on node2 'rmmod mars && rm -rf /mars/* && marsadm create-cluster >/dev/null'
foreign=$(on node2 'readlink /mars/uuid')
[ "$foreign" != "$uuid" ] || fail "node2's new cluster has node1's uuid"
on node2 "mkdir -p /mars/ips /mars/resource-evil && ln -sf 10.77.0.1 /mars/ips/ip-node1 && ln -s node2 /mars/resource-evil/primary"
on node1 'dmesg -c >/dev/null'
on node2 'dmesg -c >/dev/null && modprobe mars'
on node1 'ln -sfn 10.77.0.2 /mars/ips/ip-node2'
sleep 8 # several pull rounds (2 s each) both ways
on node1 'test ! -e /mars/resource-evil' || fail "a foreign node injected links into node1"
assert_eq "$uuid" "$(on node1 'readlink /mars/uuid')" "node1's uuid"
on node2 'test ! -e /mars/resource-r0' || fail "a foreign node read the cluster's links"
assert_eq "$foreign" "$(on node2 'readlink /mars/uuid')" "node2's uuid"
# The checks above mean something only if the nodes did talk: each refused the other.
retry 20 on node2 'dmesg | grep -q "metadata: refusing 10.77.0.1: it holds none of our cluster keys"' || fail "node1 never connected to node2"
retry 20 on node1 'dmesg | grep -q "metadata: 10.77.0.2 refused us: no shared key"' ||
  fail "node1 did not log the refusal of its pull from node2"
retry 20 on node1 'dmesg | grep -q "metadata: refusing 10.77.0.2: it holds none of our cluster keys"' || fail "node2 never connected to node1"
on node1 'dmesg | grep -E "cluster keys|shared key" | sort -u -k2 | head -4'

step "clean up"
for n in node1 node2; do on $n 'rmmod mars; rm -rf /mars/*'; done
echo ok
