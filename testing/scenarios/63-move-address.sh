#!/usr/bin/env bash
# A member moves to another address (docu/cluster.md, "Moving a member to another
# address"): node2, secondary of r0, gets 10.77.0.12 and loses 10.77.0.2. Told on node2
# only, node1 keeps the old address (a member takes a host's address only from that
# host or from its own marsadm) and cannot reach node2: update-cluster exits 6. Told
# on node1 too, node1 hears node2 again, replication goes on, and after a handover
# node1 fetches from node2 at its new address (the old one is gone).
source "$(dirname "$0")/../lib.sh"

DISK=vda
NEW=10.77.0.12
NEW_HEX=0C004D0A # 10.77.0.12 as /proc/net/tcp writes it
restore() { on node2 "ip addr del $NEW/24 dev repl0 2>/dev/null; ip addr add 10.77.0.2/24 dev repl0 2>/dev/null; true"; }
trap restore EXIT

replicated_r0
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate after its sync"


step "node2 moves; told on node2 only"
# (promote_secondaries: deleting the old address keeps the new one of the same subnet.)
on node2 "sysctl -qw net.ipv4.conf.repl0.promote_secondaries=1 && ip addr add $NEW/24 dev repl0" || fail "new address on node2"
on node2 "marsadm lowlevel-set-host-ip node2 $NEW" || fail "lowlevel-set-host-ip on node2"
retry 10 on node2 "grep -q '$NEW_HEX:1E61 00000000:0000 0A' /proc/net/tcp" ||
  fail "node2 does not listen on $NEW: $(on node2 'cat /proc/net/tcp')"
on node2 'ip addr del 10.77.0.2/24 dev repl0' || fail "removing the old address"
sleep 4 # two pull rounds: node1 would have learned it if a member took it from a third host
assert_eq 10.77.0.2 "$(on node1 'readlink /mars/ips/ip-node2')" "node2's address on node1"
expect_status 6 on node1 'marsadm update-cluster --timeout 8'

step "told on node1 too: node1 hears node2 at $NEW"
expect_status 5 on node1 "marsadm lowlevel-set-host-ip node9 $NEW"
expect_status 1 on node1 'marsadm lowlevel-set-host-ip node2 10.77.0.1'
on node1 "marsadm lowlevel-set-host-ip node2 $NEW" || fail "lowlevel-set-host-ip on node1"
on node1 'marsadm update-cluster --timeout 30' || fail "node1 does not hear node2 at $NEW"
write_block node1 10
retry 60 caught_up node1 node2 || fail "node2 did not replay node1's write after the move"

step "handover to node2: node1 fetches from $NEW"
on node2 'marsadm primary r0' || fail "handover to node2: $(on node2 'marsadm view r0')"
write_block node2 20
retry 60 caught_up node2 node1 || fail "node1 did not replay node2's write from $NEW: $(on node1 'marsadm view r0')"
disk_sums=$(for n in node1 node2; do on $n 'dd if=/dev/vda bs=1M count=2 iflag=direct status=none | md5sum'; done | sort -u | wc -l)
assert_eq 1 "$disk_sums" "distinct checksums of the first 2 MiB of the two disks"
echo ok
