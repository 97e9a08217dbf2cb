#!/usr/bin/env bash
# Debian nodes (testbed up --image debian, docu/testbed.md "Images"): two nodes boot
# Debian 12 with systemd as PID 1 and finish booting with no failed unit; they have the
# busybox nodes' identity (hostname, /mars on vdc, replication address); mars.ko built
# for their kernel (build/mars.ko), pushed into each, loads; node1 creates r0
# with xfs on it, node2 joins, and a file written on node1 is on node2's disk after
# replay.
# testbed-image: debian
source "$(dirname "$0")/../lib.sh"

KO=$TESTING/../build/mars.ko
[ -f "$KO" ] || fail "$KO missing: run make debian-image"

for n in node1 node2; do
  step "$n: systemd is PID 1 and the boot ended with no failed unit"
  assert_eq systemd "$(on $n 'cat /proc/1/comm')" "PID 1 of $n"
  state=$(on $n 'systemctl is-system-running' || true)
  failed=$(on $n 'systemctl list-units --failed --plain --no-legend --no-pager' | awk '{ print $1 }' | tr '\n' ' ')
  case "$state" in running | degraded) ;; *) fail "$n: system state '$state' (failed units: ${failed:-none})" ;; esac
  [ -z "$failed" ] || fail "$n: failed units: $failed"
  # One unit per call: is-active with several succeeds when any one is active.
  for u in testbed-agent.service mars-node-setup.service mars.mount; do
    on $n "systemctl is-active --quiet $u" || fail "$n: $u not active: $(on $n "systemctl status --no-pager $u | head -5")"
  done

  step "$n: identity as in the busybox image"
  assert_eq "$n" "$(on $n hostname)" "hostname"
  on $n 'grep -q "^/dev/vdc /mars ext4 " /proc/mounts' || fail "$n: /dev/vdc not mounted on /mars as ext4"
  on $n 'ip -4 -o addr show dev repl0' | grep -q "10.77.0.${n#node}/24" || fail "$n: wrong replication address"
  assert_eq 536870912 "$(on $n 'blockdev --getsize64 /dev/vdb')" "data disk size"

  step "$n: mars.ko pushed from the host loads with modprobe"
  release=$(on $n 'uname -r')
  tb push $n "$KO" "/lib/modules/$release/extra/mars.ko" || fail "push of mars.ko to $n"
  on $n 'depmod -a && modprobe mars && test -d /proc/sys/mars' || fail "$n: modprobe mars"
done

step "node1 creates r0 with xfs, node2 joins, a file written on node1 reaches node2"
replicated_r0 xfs
sum=$(on node1 'head -c 1048576 /dev/urandom > /mnt/r0/file && sync /mnt/r0/file && sha256sum < /mnt/r0/file' | cut -d' ' -f1)
[ -n "$sum" ] || fail "writing the file on node1"
on node1 'umount /mnt/r0' || fail "umount on node1"
retry 240 caught_up node1 node2 || fail "node2 did not replay node1's writes: $(on node2 'marsadm view r0')"
for n in node1 node2; do on $n 'marsadm down r0' || fail "marsadm down r0 on $n"; done
# node2's data disk holds the filesystem with the file (read-only: norecovery, no log
# replay on a disk that is a secondary's).
on node2 'mkdir -p /mnt/check && mount -t xfs -o ro,norecovery /dev/vdb /mnt/check' || fail "mount of node2's vdb"
got=$(on node2 'sha256sum < /mnt/check/file' | cut -d' ' -f1)
on node2 'umount /mnt/check'
assert_eq "$sum" "$got" "sha256 of the file on node2's disk"
same_disks vdb node1 node2

step "clean up"
for n in node1 node2; do on $n 'rmmod mars; rm -rf /mars/*'; done
echo ok
