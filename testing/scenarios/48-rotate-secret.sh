#!/usr/bin/env bash
# rotate-secret on a replicating cluster (docu/security.md): node1 generates and installs
# a new secret while node2 still holds only the old one, and replication goes on; --finish
# is refused while node2 lacks the new key; after both finish, a host with only the old
# key gets nothing, and with the new one replication resumes; the disks end equal.
source "$(dirname "$0")/../lib.sh"

DISK=vda replicated_r0
on node2 'marsadm wait-resource r0 --until uptodate --timeout 180' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
old=$(on node1 'cat /mars/cluster.key')

# write MIB OFFSET_MIB: MiB of random data to node1's /dev/mars/r0, then wait until node2
# has replayed everything node1 logged.
write() {
  on node1 "dd if=/dev/urandom of=/dev/mars/r0 bs=1M count=$1 seek=$2 oflag=direct 2>/dev/null" || fail "write on node1"
  retry 60 caught_up node1 node2 || fail "node2 did not replay node1's writes: $(on node2 'marsadm view r0')"
}

step "node1 installs a new secret; node2 holds only the old one; replication goes on"
on node1 'marsadm rotate-secret --generate /root/new.key' || fail "rotate-secret --generate"
new=$(on node1 'cat /root/new.key')
[ "$new" != "$old" ] || fail "the new secret equals the old one"
assert_eq "$new" "$(on node1 'cat /mars/cluster.key')" "node1's current key"
assert_eq "$old" "$(on node1 'cat /mars/cluster.key.old')" "node1's old key"
assert_eq "-rw-------" "$(on node1 'ls -l /root/new.key /mars/cluster.key /mars/cluster.key.old' | cut -c1-10 | sort -u)" "key file modes"
on node1 'dmesg -c >/dev/null'
write 4 0
on node2 'marsadm wait-cluster --timeout 20' || fail "no metadata exchange while the keys differ"

step "--finish is refused while node2 does not show the new key"
out=$(on node1 'marsadm rotate-secret --finish 2>&1'; echo "status $?")
case "$out" in *"not every member holds the new key"*node2*"status 1") ;; *) fail "early --finish: $out" ;; esac
on node1 'test -e /mars/cluster.key.old' || fail "a refused --finish removed the old key"

step "node2 installs the new secret; both finish"
on node2 "echo $new | marsadm rotate-secret --secret-file -" || fail "rotate-secret --secret-file on node2"
on node2 "echo $new | marsadm rotate-secret --secret-file -" | grep -q "holds key .* already" || fail "a second install is not harmless"
retry 20 on node1 'marsadm rotate-secret --finish' || fail "--finish on node1"
retry 20 on node2 'marsadm rotate-secret --finish' || fail "--finish on node2"
on node1 'test ! -e /mars/cluster.key.old' || fail "node1 still holds the old key"
write 4 4
# (node2's address only: a node left running by an earlier scenario may knock with its old key)
on node1 'dmesg | grep -E "10\.77\.0\.2.*(cluster keys|shared key)|tag mismatch"' && fail "authentication failures during the rotation"

step "a host with only the old key gets nothing; with the new one, replication resumes"
on node2 "echo $old > /mars/cluster.key"
retry 20 on node1 'dmesg | grep -q "refusing 10.77.0.2: it holds none of our cluster keys"' || fail "node1 accepted the retired key"
# A fetch connection opened before lives at most 5 s (then both prove their key again),
# plus the end of its round (a long poll, at most 1 s).
sleep 7
before=$(on node2 'readlink /mars/resource-r0/replay-node2')
on node1 "dd if=/dev/urandom of=/dev/mars/r0 bs=1M count=2 seek=8 oflag=direct 2>/dev/null" || fail "write on node1"
sleep 6 # three pull rounds and fetch attempts
assert_eq "$before" "$(on node2 'readlink /mars/resource-r0/replay-node2')" "node2's replay with the retired key"
on node2 "echo $new > /mars/cluster.key"
write 2 10

step "down on both: the disks are equal"
on node1 'marsadm down r0' || fail "down on node1"
on node2 'marsadm down r0' || fail "down on node2"
same_disks vda node1 node2
echo ok
