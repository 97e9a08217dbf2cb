#!/usr/bin/env bash
# systemd as the cluster manager (docu/systemd.md), planned handover: on Debian nodes
# with systemd as PID 1, node1 creates r0 with xfs and node2 joins (the unit templates
# are instantiated on both); set-systemd-unit with a writer service and the mount unit
# starts them on node1 (a unit no template made is refused); `marsadm primary r0` on
# node2 stops them on node1 (no manual umount), hands over and starts them on node2,
# where the writer's log holds node1's lines and goes on; and back to node1.
# testbed-image: debian
source "$(dirname "$0")/../lib.sh"
source "$TESTING/systemd-lib.sh"

install_mars node1 node2
setup_r0

step "marsadm primary r0 on node2: the units move from node1 to node2"
on node2 'marsadm primary r0' || fail "handover to node2: $(on node2 'marsadm view r0'; on node1 'journalctl -b --no-pager -u mars-trigger.service | tail -20')"
units_on node2
units_off node1
on node2 'grep -q "^node1 " /mnt/mars/r0/writer.log' || fail "node1's lines are not in node2's writer.log"
assert_eq node2 "$(on node1 'marsadm view-get-primary r0')" "designated primary seen on node1"
retry 30 on node1 'test "$(readlink /mars/resource-r0/actual-node1/is-primary)" = 0' || fail "node1 is still primary"
on node1 'journalctl -b --no-pager -u mars-trigger.service | grep -q "stopping mnt-mars-r0.mount"' ||
  fail "node1's trigger did not stop the mount: $(on node1 'journalctl -b --no-pager -u mars-trigger.service | tail -20')"

step "and back: marsadm primary r0 on node1"
on node1 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node1 not UpToDate: $(on node1 'marsadm view r0')"
on node1 'marsadm primary r0' || fail "handover to node1: $(on node1 'marsadm view r0')"
units_on node1
units_off node2
lines=$(on node1 'cut -d" " -f1 /mnt/mars/r0/writer.log | uniq | tr "\n" " "')
echo "writer.log by host: $lines"
case "$lines" in "node1 node2 node1 ") ;; *) fail "writer.log should show node1, node2, node1 in turn: $lines" ;; esac

step "clean up"
sd_cleanup
echo ok
