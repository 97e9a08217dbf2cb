#!/usr/bin/env bash
# Two nodes boot with their identity, disks, tools and name resolution.
source "$(dirname "$0")/../lib.sh"

step "status lists both nodes as running"
status=$(tb status)
echo "$status"
grep -q '^node1 running' <<<"$status" || fail "node1 not running"
grep -q '^node2 running' <<<"$status" || fail "node2 not running"

for n in node1 node2; do
  step "$n: identity and kernel"
  assert_eq "$n" "$(on $n hostname)" "hostname"
  # The kernel line the testbed booted it with (status: kernel=7.3, 6.12 or 7.3-debug;
  # its release starts with the version).
  line=$(sed -n "s/^$n .* kernel=\([0-9.]*\)\(-debug\)\{0,1\}$/\1/p" <<<"$status")
  [ -n "$line" ] || fail "$n: status names no kernel"
  on $n 'uname -r' | grep -q "^${line//./\\.}\." || fail "$n does not run the $line kernel it was booted with"

  step "$n: disks"
  assert_eq 536870912 "$(on $n 'blockdev --getsize64 /dev/vdb')" "data disk size"
  for d in vda vdd vde; do
    assert_eq 67108864 "$(on $n "blockdev --getsize64 /dev/$d")" "scratch disk $d size"
  done
  on $n 'grep -q "^/dev/vdc /mars ext4 " /proc/mounts' || fail "$n: /dev/vdc not mounted on /mars as ext4"

  step "$n: tools"
  on $n 'for t in mkfs.xfs xfs_repair xfs_growfs mount dd fio sha256sum drbdadm drbdsetup marsadm modprobe tc ip; do
           command -v $t >/dev/null || { echo "missing $t"; exit 1; }; done' || fail "$n lacks tools"
  on $n 'marsadm --version' | grep -q '^marsadm ' || fail "$n: marsadm does not run"
  on $n 'fio --version' >/dev/null || fail "$n: fio does not run"

  step "$n: every node name resolves to its replication address"
  hosts=$(on $n 'cat /etc/hosts')
  grep -q '^10.77.0.1 node1$' <<<"$hosts" || fail "$n: node1 not in /etc/hosts"
  grep -q '^10.77.0.2 node2$' <<<"$hosts" || fail "$n: node2 not in /etc/hosts"
  on $n 'ip -4 -o addr show dev repl0' | grep -q "10.77.0.${n#node}/24" || fail "$n: wrong replication address"
done
echo "ok"
