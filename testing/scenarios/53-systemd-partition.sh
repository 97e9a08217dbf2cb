#!/usr/bin/env bash
# systemd as the cluster manager (docu/systemd.md), failover during a network
# partition: writer and mount run on node1; the replication network between node1 and
# node2 is cut; `marsadm primary --force r0` on node2 starts them there while node1's
# go on (node1 does not know yet); once the network heals, node1's module merges
# primary = node2 and writes its trigger, and node1's systemd stops the units there
# (the device closes; the split brain is left to the operator).
# testbed-image: debian
source "$(dirname "$0")/../lib.sh"
source "$TESTING/systemd-lib.sh"

install_mars node1 node2
setup_r0

step "network cut; primary --force on node2 starts the units there, node1's go on"
tb net cut node1 node2
on node2 'marsadm pause-fetch r0 >/dev/null' || fail "pause-fetch on node2"
on node2 'marsadm primary --force r0' || fail "forced failover to node2: $(on node2 'marsadm view r0')"
units_on node2
units_on node1

step "network heals: node1 learns primary = node2 and stops its units"
tb net heal node1 node2
retry 60 on node1 'test "$(readlink /mars/resource-r0/primary)" = node2' || fail "node1 did not learn primary = node2"
retry 60 sh -c "! $TB exec node1 -- systemctl is-active --quiet mnt-mars-r0.mount" ||
  fail "node1 still runs the mount: $(on node1 'journalctl -b --no-pager -u mars-trigger.service | tail -20')"
units_off node1
retry 60 on node1 'test "$(readlink /mars/resource-r0/actual-node1/is-primary)" = 0' || fail "node1 did not leave the primary role"
units_on node2
on node1 'journalctl -b --no-pager -u mars-trigger.service | grep "stopping mnt-mars-r0.mount"' || fail "node1's stop was not the trigger's"

step "clean up"
sd_cleanup
echo ok
