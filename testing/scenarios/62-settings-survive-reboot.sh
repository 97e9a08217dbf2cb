#!/usr/bin/env bash
# Settings that survive a reboot (docu/proc-sys-mars.md): both nodes keep base_port 7790
# in /etc/sysctl.d/60-mars.conf, which the package's udev rule applies whenever mars.ko
# is loaded. A cluster and a resource on that port; node2 reboots (a crash, then a boot
# with mars.service enabled) and comes back on port 7790: it hears node1 and replicates
# what node1 writes. Without the file a rebooted member comes back on 7777 and talks to
# nobody.
# testbed-image: debian
source "$(dirname "$0")/../lib.sh"
source "$TESTING/systemd-lib.sh"

CONF=/etc/sysctl.d/60-mars.conf
cleanup() {
  for n in node1 node2; do
    $TB exec $n -- sh -c "rm -f $CONF; systemctl disable mars.service; systemctl stop mars.service; rmmod mars; rm -rf /mars/*; sync" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

install_mars node1 node2
sd_fresh node1 node2
zero_disks vdb node1 node2

step "the udev rule applies $CONF when the module is loaded"
for n in node1 node2; do
  on $n "printf '# scenario 62\nmars.base_port = 7790\n' > $CONF && sync" || fail "writing $CONF on $n"
  on $n 'systemctl restart mars.service' || fail "restart of mars.service on $n"
  retry 10 on $n 'test "$(cat /proc/sys/mars/base_port)" = 7790' || fail "$n: base_port $(on $n 'cat /proc/sys/mars/base_port') after the module was loaded"
done
# By hand too.
on node2 'systemctl stop mars.service && modprobe mars' || fail "modprobe by hand on node2"
retry 10 on node2 'test "$(cat /proc/sys/mars/base_port)" = 7790' || fail "node2: base_port $(on node2 'cat /proc/sys/mars/base_port') after modprobe by hand"
on node2 'rmmod mars && systemctl start mars.service' || fail "back to mars.service on node2"

step "a cluster and a resource on port 7790"
on node1 'marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vdb >/dev/null' || fail "create on node1"
on node1 'marsadm wait-resource r0 --until primary --timeout 30' || fail "node1 did not become primary of r0"
# listening: state 0A in /proc/net/tcp; 7790 = 0x1E6E, 7777 = 0x1E61
listens() { on node1 "grep -q ':$1 00000000:0000 0A' /proc/net/tcp"; }
retry 10 listens 1E6E || fail "node1 does not listen on 7790: $(on node1 'cat /proc/net/tcp')"
listens 1E61 && fail "node1 listens on 7777 too"
join_cluster node2
on node2 'marsadm join-resource r0 /dev/vdb >/dev/null && marsadm fake-sync r0 >/dev/null' || fail "join-resource on node2"
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=16 oflag=direct status=none' || fail "write on node1"
retry 60 caught_up node1 node2 || fail "node2 does not follow node1: $(on node2 'marsadm view r0')"
for n in node1 node2; do on $n 'systemctl enable mars.service && sync' >/dev/null || fail "enable mars.service on $n"; done

step "node2 reboots: back on 7790, it hears node1 and replicates"
tb crash node2
tb start node2
on node2 'systemctl is-active --quiet mars.service' || fail "mars.service not active on node2 after the boot"
assert_eq 7790 "$(on node2 'cat /proc/sys/mars/base_port')" "node2's base_port after the reboot"
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=16 seek=16 oflag=direct status=none' || fail "write on node1"
retry 90 caught_up node1 node2 || fail "node2 does not follow node1 after the reboot: $(on node2 'marsadm view r0')"
seen() { on node1 'marsadm view r0' | grep -q "member node2: Secondary UpToDate, not behind, heard"; }
retry 20 seen || fail "node1 does not see node2: $(on node1 'marsadm view r0')"
echo ok
