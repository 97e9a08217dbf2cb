#!/usr/bin/env bash
# Silent peers (issue 10, docu/wire-protocol.md "Listeners"): node1 opens many silent
# connections to its own three ports, again and again (busybox nc). Replication to the
# real member node2 goes on; the connections from one address are bounded; a peer's
# bad frames are logged rate-limited; a base_port change and rmmod return, also rmmod
# on node2 while its threads sleep in backoff (durations printed, not asserted). Last, a
# member whose tree listing never ends (mars-hostile endless-tree on a second address of
# node2, as "node9"): node1 goes on pulling node2's tree (docu/wire-protocol.md).
source "$(dirname "$0")/../lib.sh"

DISK=vda
fresh_modules node1 node2
zero_disks vda node1 node2
create_r0 /dev/vda
join_cluster node2
on node2 'marsadm join-resource r0 /dev/vda >/dev/null' || fail "join-resource on node2"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"

addr=$(on node1 'readlink /mars/ips/ip-node1')
per_port=12 # more than the bound per peer address (connlimit::MAX_PER_PEER = 8)

# attack: per_port loops per port, each holding a silent connection (nc reading from a
# FIFO that never delivers nor ends) and opening the next a second after the module
# closed it. One process group, so that it can be ended by its id.
attack() {
  on node1 "rm -f /tmp/silent && mkfifo /tmp/silent && setsid sh -c 'for p in 7777 7778 7779; do
      for i in \$(seq $per_port); do
        (while :; do nc $addr \$p <> /tmp/silent; sleep 1; done) &
      done
    done; wait' </dev/null >/dev/null 2>&1 & echo \$! > /tmp/attack.pid"
}
stop_attack() { on node1 'kill -TERM -$(cat /tmp/attack.pid) 2>/dev/null; true'; }
trap stop_attack EXIT

# established PORT: connections node1's listener on PORT holds from node1's own address
# (server side in /proc/net/tcp: local address:PORT, remote node1, ESTABLISHED).
established() {
  on node1 "awk -v port=\$(printf %04X $1) -v a=$addr '
    BEGIN { split(a, o, \".\"); ip = sprintf(\"%02X%02X%02X%02X\", o[4], o[3], o[2], o[1]) }
    \$4 == \"01\" && \$2 == ip \":\" port && \$3 ~ \"^\" ip \":\" { n++ } END { print n + 0 }' /proc/net/tcp"
}
# attacked: the silent connections fill what one address may hold on every port.
attacked() {
  local p
  for p in 7777 7778 7779; do [ "$(established $p)" -ge 8 ] || return 1; done
}
bounded() { [ "$(established "$1")" -le 8 ]; }
# listening PORT: node1 has a listening socket on PORT.
listening() {
  on node1 "awk -v port=\$(printf %04X $1) '\$4 == \"0A\" && \$2 ~ \":\" port \"\$\" { n++ } END { exit n == 0 }' /proc/net/tcp"
}
not_listening() { ! listening "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

step "silent connections from node1 to its own ports 7777-7779"
attack
retry 60 attacked || fail "the attack does not connect: $(established 7777) $(established 7778) $(established 7779)"

step "node2 is still served: a block written on node1 reaches node2's disk"
marker=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
on node1 "printf '$marker' | dd of=/dev/mars/r0 bs=4096 seek=100 conv=sync,fsync status=none" || fail "write on node1"
got() { on node2 'dd if=/dev/vda bs=4096 skip=100 count=1 iflag=direct status=none' | head -c 32 | tr -d '\000'; }
arrived() { [ "$(got)" = "$marker" ]; }
retry 120 arrived || fail "node2 did not get the block (has '$(got)'): $(on node2 'marsadm view r0')"
echo "node2 has the block written on node1"

step "connections from one address are bounded"
for p in 7777 7778 7779; do
  retry 30 bounded $p || fail "port $p holds $(established $p) connections from $addr"
  echo "port $p: $(established $p) connections from $addr (attack: $per_port loops)"
done
lines=$(on node1 'dmesg | grep -c "too many open from this address"' || true)
[ "$lines" -ge 1 ] || fail "no line about refused connections"
echo "refusal lines logged: $lines (rate-limited)"

step "40 bad frames from node2: its log lines are rate-limited"
before=$(on node1 'dmesg | grep -c "metadata: bad frame header"' || true)
on node2 "for i in \$(seq 40); do printf 'GARBAGE-GARBAGE-GARBAGE-GARBAGE' | nc -w 1 10.77.0.1 7777 >/dev/null 2>&1; done; true"
after=$(on node1 'dmesg | grep -c "metadata: bad frame header"' || true)
echo "bad frame lines logged for 40 bad frames: $((after - before))"
[ $((after - before)) -ge 1 ] || fail "no line about the bad frames"
# Without the limit every frame has its line.
[ $((after - before)) -lt 40 ] || fail "$((after - before)) lines for 40 bad frames: not rate-limited"

step "a base_port change moves the listeners (time printed)"
t0=$(now_ms)
on node1 'echo 7800 > /proc/sys/mars/base_port'
retry 120 listening 7800 || fail "not listening on 7800"
retry 120 not_listening 7777 || fail "still listening on 7777"
echo "base_port change to 7800: listeners moved after $(($(now_ms) - t0)) ms"
on node1 'echo 7777 > /proc/sys/mars/base_port'
retry 120 listening 7777 || fail "not listening on 7777 again"

step "rmmod with silent connections open returns (time printed)"
t0=$(now_ms)
on node1 'rmmod mars' || fail "rmmod mars"
echo "rmmod took $(($(now_ms) - t0)) ms"
stop_attack

step "rmmod on node2 while its threads back off from the unreachable node1 (time printed)"
sleep 20 # the fetch, sync and peer threads' backoff sleeps grow towards 10 s
t0=$(now_ms)
on node2 'rmmod mars' || fail "rmmod mars on node2"
echo "rmmod on node2 took $(($(now_ms) - t0)) ms"
on node2 'modprobe mars' || fail "modprobe mars on node2"
on node1 'modprobe mars' || fail "modprobe mars"
on node1 'marsadm wait-resource r0 --until primary --timeout 60' || fail "node1 not primary again"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node2 not UpToDate again"

step "a member whose tree listing never ends: node1 goes on pulling node2's tree"
# node2 holds a second address, 10.77.0.9, where mars-hostile serves as "node9" (with
# the cluster key) a listing that never ends; node1 learns of node9 and pulls from it.
stop_endless() {
  on node2 'kill $(cat /tmp/endless.pid) 2>/dev/null; ip addr del 10.77.0.9/24 dev repl0 2>/dev/null; true'
}
trap 'stop_attack; stop_endless' EXIT
on node2 'ip addr add 10.77.0.9/24 dev repl0' || fail "second address on node2"
on node2 'setsid mars-hostile --as-host node9 endless-tree --listen 10.77.0.9 </dev/null >/tmp/endless.log 2>&1 & echo $! > /tmp/endless.pid'
on node1 'ln -s 10.77.0.9 /mars/ips/.ip-node9 && mv /mars/ips/.ip-node9 /mars/ips/ip-node9'
# stamp NODE: NODE's liveness link (its Lamport clock, rewritten every round), digits only.
stamp() { on "$1" "readlink /mars/actual-$1/time | tr -d ."; }
heard() { local t; t=$(on node1 "readlink /mars/actual-node2/time | tr -d .") && [ "${t:-0}" -gt "$1" ]; }
sleep 5 # node1 is in node9's listing by now
for round in 1 2 3; do
  t=$(stamp node2)
  retry 90 heard "$t" || fail "round $round: node1 no longer pulls node2's tree: $(on node1 'dmesg | grep -e node9 | tail -3')"
  echo "round $round: node1 has node2's tree of after $t"
done
on node1 'dmesg | grep "listing from node9 cut off"' | head -2 || fail "no line about node9's listing being cut off"
stop_endless
for n in node1 node2; do on $n 'rmmod mars'; done
for n in node1 node2; do on $n 'rm -f /mars/ips/ip-node9 && modprobe mars'; done
on node1 'marsadm wait-resource r0 --until primary --timeout 60' || fail "node1 not primary again"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node2 not UpToDate again"
