#!/usr/bin/env bash
# systemd as the cluster manager (docu/systemd.md), forced failover: writer and mount
# run on node1 under systemd (mars.service enabled on both); node1 crashes; `marsadm
# primary --force r0` on node2 starts them there; node1 boots again with its old tree
# (primary = node1), its module brings the device up, its trigger waits to hear from
# node2, learns primary = node2 and starts nothing, while node2's units go on.
# testbed-image: debian
source "$(dirname "$0")/../lib.sh"
source "$TESTING/systemd-lib.sh"

install_mars node1 node2
setup_r0
# (sync: a crash loses what is only in the guest's page cache)
for n in node1 node2; do on $n 'systemctl enable mars.service && sync' >/dev/null || fail "enable mars.service on $n"; done

step "node1 crashes; primary --force on node2 starts the units there"
tb crash node1
on node2 'marsadm pause-fetch r0 >/dev/null' || fail "pause-fetch on node2"
on node2 'marsadm primary --force r0' || fail "forced failover to node2: $(on node2 'marsadm view r0')"
units_on node2

step "node1 boots with its old tree: its trigger starts nothing"
tb start node1
on node1 'systemctl is-active --quiet mars.service' || fail "mars.service not active on node1 after boot"
retry 60 on node1 'test "$(readlink /mars/resource-r0/primary)" = node2' || fail "node1 did not learn primary = node2"
# The trigger ran after the boot (at mars.service start, and when the device came or
# went) and decided; watch for a while that nothing starts.
retry 60 on node1 'journalctl -b --no-pager -u mars-trigger.service | grep -q "instantiated mnt-mars-r0.mount"' ||
  fail "node1's trigger did not run after the boot: $(on node1 'journalctl -b --no-pager -u mars-trigger.service | tail -20')"
for i in $(seq 15); do
  units_off node1
  sleep 1
done
on node1 'journalctl -b --no-pager -u mars-trigger.service | tail -20'
units_on node2
echo "node1: $(on node1 'marsadm view r0' | head -3 | tr '\n' ' ')"

step "clean up"
sd_cleanup
echo ok
