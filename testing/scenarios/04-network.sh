#!/usr/bin/env bash
# The replication network connects the nodes; `net cut` stops that both ways and
# `net heal` restores it; the management link (exec) is unaffected by a cut.
source "$(dirname "$0")/../lib.sh"

reach() { on "$1" "ping -c 1 -W 2 $2 >/dev/null"; }

step "node1 <-> node2 over the replication network"
retry 20 reach node1 node2 || fail "node1 cannot reach node2"
reach node2 node1 || fail "node2 cannot reach node1"
on node1 'ping -c 1 node2' | grep -q '10.77.0.2' || fail "node2 does not resolve to 10.77.0.2"

step "cut"
tb net cut node1 node2
tb net cut node1 node2   # idempotent
reach node1 node2 && fail "node1 still reaches node2 after cut"
reach node2 node1 && fail "node2 still reaches node1 after cut"
assert_eq node1 "$(on node1 hostname)" "exec during cut"

step "heal"
tb net heal node2 node1   # either order
retry 20 reach node1 node2 || fail "node1 cannot reach node2 after heal"
reach node2 node1 || fail "node2 cannot reach node1 after heal"
tb net heal node1 node2   # healing a healthy link is fine
echo "ok"
