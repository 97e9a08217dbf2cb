#!/usr/bin/env bash
# `net shape` delays, drops and rate-limits what a node sends; shaping survives a
# crash and start; `net unshape` removes it.
source "$(dirname "$0")/../lib.sh"

rtt_ms() { # average ping RTT in whole ms from $1 to $2
  on "$1" "ping -c 3 -i 0.3 $2" | sed -n 's#.*= [0-9.]*/\([0-9]*\)\..*#\1#p'
}

step "delay"
tb net shape node1 --delay 150
rtt=$(rtt_ms node1 node2)
echo "rtt with 150 ms delay: $rtt ms"
[ "$rtt" -ge 150 ] || fail "rtt $rtt ms < 150 ms with delay"

step "shaping survives crash and start"
tb crash node1
tb start node1
on node1 "tc qdisc show dev repl0" | grep -q 'netem.*delay 150' || fail "netem not reapplied after start"

step "unshape"
tb net unshape node1
on node1 "tc qdisc show dev repl0" | grep -q netem && fail "netem still present"
rtt=$(rtt_ms node1 node2)
echo "rtt unshaped: $rtt ms"
[ "$rtt" -lt 150 ] || fail "rtt $rtt ms still >= 150 ms after unshape"

step "loss 100% drops everything; rate is configured"
tb net shape node2 --loss 100 --rate 8000
on node2 'ping -c 2 -W 1 node1 >/dev/null' && fail "packets pass with 100% loss"
on node2 "tc qdisc show dev repl0" | grep -q 'rate 8Mbit' || fail "rate not set"
tb net unshape node2
retry 10 on node2 'ping -c 1 -W 1 node1 >/dev/null' || fail "no traffic after unshape"

step "bad arguments"
expect_status 255 tb net shape node1
expect_status 255 tb net shape node1 --loss 150
echo "ok"
