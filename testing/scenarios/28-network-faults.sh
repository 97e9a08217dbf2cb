#!/usr/bin/env bash
# A replication network that misbehaves (docu/reliability.md, "Network faults") while
# node1 writes all the time: packets delayed, reordered, duplicated and corrupted (netem
# on both nodes), a one-way partition each way, and a link that flaps every 3 s. The
# application never fails; after the network heals node2 catches up and the disks are
# equal (nothing corrupted was accepted, nothing was skipped).
source "$(dirname "$0")/../lib.sh"
DISK=vda

netem() { on "$1" "tc qdisc replace dev repl0 root netem limit 100000 ${*:2}" || fail "netem $* on $1"; }
clean() { on "$1" 'tc qdisc del dev repl0 root 2>/dev/null; true'; }
trap 'for n in node1 node2; do clean $n >/dev/null 2>&1; done; tb net heal node1 node2 >/dev/null 2>&1 || true' EXIT

replicated_r0
on node2 'marsadm wait-resource r0 --until uptodate --timeout 180' || fail "node2 not UpToDate"

# Random 64 KiB writes all over the disk until /tmp/stop exists; counts them.
tb exec node1 -- sh -c 'rm -f /tmp/stop; n=0; while [ ! -e /tmp/stop ]; do
    dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=1 seek=$(( $(od -An -N2 -tu2 /dev/urandom) % 1024 )) oflag=direct status=none || exit 1
    n=$((n + 1)); sleep 0.1; done; echo "$n writes"' > /tmp/mars-netfaults.$$ 2>&1 &
writer=$!

step "delay, reordering, duplication and corruption on both nodes"
for n in node1 node2; do netem $n delay 20ms 10ms reorder 25% 50% duplicate 5% corrupt 1%; done
sleep 20
for n in node1 node2; do clean $n; done

step "one-way partition: node1's packets to node2 lost, then node2's to node1"
netem node1 loss 100%
sleep 15
clean node1
netem node2 loss 100%
sleep 15
clean node2

step "a link that flaps every 3 s for 30 s"
for _ in 1 2 3 4 5; do
  tb net cut node1 node2
  sleep 3
  tb net heal node1 node2
  sleep 3
done

step "the network is healthy again: node2 catches up"
on node1 'touch /tmp/stop'
wait $writer || fail "the writer on node1 failed: $(cat /tmp/mars-netfaults.$$)"
echo "node1: $(cat /tmp/mars-netfaults.$$)"
rm -f /tmp/mars-netfaults.$$
retry 180 caught_up node1 node2 || fail "node2 did not catch up: $(on node2 'marsadm view r0')"
on node2 'marsadm view r0'
on node2 'dmesg | grep -c "mars:.*\(refused\|rejected\|bad\|reconnect\)" || true'
for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks vda node1 node2
