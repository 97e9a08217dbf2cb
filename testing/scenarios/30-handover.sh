#!/usr/bin/env bash
# Planned handover with xfs (design reference §5.3, docu/failover.md): node1 writes
# files; `marsadm primary` on node2 is refused while node1 has the device mounted
# (message, exit 1, tree unchanged); designated by hand meanwhile, node2 waits and
# view, JSON and metrics say why (takeover_wait); after umount `primary` succeeds; node2 mounts and every
# file's sha256 equals what node1 wrote; node2 writes more; node1 follows node2 as a
# secondary (replay links equal); hand back to node1; after `down` the disks are equal
# (node2 started from `fake-sync`: its disk is a copy by replay alone).
# testbed-kernels: 7.3 6.12 7.3,6.12
# (and a mixed cluster: node1 on Debian's 7.3, node2 on the project's 6.12, handing over
# both ways, as in a rolling kernel upgrade)
source "$(dirname "$0")/../lib.sh"

replicated_r0 xfs

step "fake-sync (replicated_r0 used it on node2): refused on the primary, a no-op once done"
expect_status 1 on node1 'marsadm fake-sync r0'
out=$(on node2 'marsadm fake-sync r0') || fail "second fake-sync on node2: $out"
grep -q "no sync to fake" <<<"$out" || fail "second fake-sync did something: $out"
assert_eq 0 "$(on node2 'dmesg | grep -c "full sync from node1"')" "full syncs on node2"

# files NODE FIRST COUNT: COUNT files of 64 KiB under /mnt/r0, each fsync'ed.
files() {
  on "$1" "mkdir -p /mnt/r0/d && i=$2; while [ \$i -lt $(($2 + $3)) ]; do
    head -c 65536 /dev/urandom > /mnt/r0/d/f\$i && sync /mnt/r0/d/f\$i || exit 1
    i=\$((i + 1)); done"
}
sums() { on "$1" 'cd /mnt/r0/d && sha256sum f* | sort -k2'; }
replay_link() { on "$1" "readlink /mars/resource-r0/replay-$2"; }
primary_link() { on "$1" 'readlink /mars/resource-r0/primary'; }

step "node1 writes files; node2 becomes UpToDate"
files node1 0 30
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"

step "primary on node2 is refused while node1 has /dev/mars/r0 mounted"
before=$(on node2 'ls -l --full-time /mars/resource-r0 | grep -v ^total | sort')
out=$(on node2 'marsadm primary r0 2>&1') && fail "primary on node2 succeeded while mounted on node1: $out"
echo "$out"
expect_status 1 on node2 'marsadm primary r0 >/dev/null 2>&1'
grep -q "in use on node1" <<<"$out" && grep -q "umount it there first" <<<"$out" || fail "refusal does not say why: $out"
assert_eq node1 "$(primary_link node2)" "primary link on node2 after the refusal"
assert_eq node1 "$(primary_link node1)" "primary link on node1 after the refusal"
after=$(on node2 'ls -l --full-time /mars/resource-r0 | grep -v ^total | sort')
# The refusal wrote nothing: every link of the resource directory is as before
# (the module's own liveness and progress links live below actual-*/ and replay-*).
diff <(grep -v -e ' replay-' -e ' version-' -e ' actual-' -e ' log-' <<<"$before") \
     <(grep -v -e ' replay-' -e ' version-' -e ' actual-' -e ' log-' <<<"$after") ||
  fail "the refused primary changed the tree"
test "$(on node1 'readlink /mars/resource-r0/actual-node1/is-primary')" = 1 || fail "node1 is no longer primary"

step "designated by hand while node1 has it mounted: node2 waits, and says why"
# (What a script writing the tree does, or marsadm before it refused: the module must
# neither take over beside node1 nor wait in silence.)
by_hand() { on "$1" "cd /mars/resource-r0 && ln -sfn $2 .primary.new && mv -fT .primary.new primary && echo 1 > /proc/sys/mars/trigger"; }
by_hand node2 node2
retry 20 on node2 'marsadm view r0 | grep -q "not taking over yet: the old primary has not left"' ||
  fail "view on node2 does not say why it waits: $(on node2 'marsadm view r0')"
on node2 'marsadm view r0 --json' | python3 -c 'import json, sys; r = json.load(sys.stdin)["resources"][0]; assert (r["role"], r["takeover_wait"]) == ("NotYetPrimary", "OldPrimaryActive") and "umount" in r["emergency"]["hint"], r' ||
  fail "view --json on node2: no takeover_wait"
on node2 'marsadm metrics' | grep -qx 'mars_resource_takeover_waiting{resource="r0"} 1' || fail "metrics on node2: no takeover wait"
test "$(on node1 'readlink /mars/resource-r0/actual-node1/is-primary')" = 1 || fail "node1 left the primary role while mounted"
by_hand node2 node1
retry 20 on node2 'test "$(readlink /mars/resource-r0/actual-node2/takeover-wait)" = 0' || fail "node2 still waits after node1 is designated again"
assert_eq Secondary "$(on node2 'marsadm view-role r0')" "node2's role"

step "after umount on node1, primary on node2 hands over"
want=$(sums node1)
on node1 'umount /mnt/r0'
on node2 'marsadm primary r0' || fail "handover to node2 failed: $(on node2 'marsadm view r0')"
assert_eq 1 "$(on node2 'readlink /mars/resource-r0/actual-node2/is-primary')" "node2 is-primary"
on node1 'marsadm --timeout 20 wait-resource r0 is-primary-off' || fail "node1 still primary"
on node2 'marsadm wait-resource r0 is-device-on --timeout 5' || fail "wait-resource is-device-on on node2"
expect_status 6 on node1 'marsadm wait-resource r0 todo-primary --timeout 1'
on node2 'marsadm wait-resource r0 todo-primary-on' || fail "wait-resource todo-primary-on on node2"
on node2 'mkdir -p /mnt/r0 && mount /dev/mars/r0 /mnt/r0' || fail "xfs does not mount on node2"
assert_eq "$want" "$(sums node2)" "sha256 of node1's files on node2"
echo "all $(wc -l <<<"$want") files equal on node2"

step "node2 writes; node1 follows as a secondary"
files node2 30 20
on node1 'marsadm wait-resource r0 --until consistent --timeout 60' || fail "node1 not consistent: $(on node1 'marsadm view r0')"
on node2 'umount /mnt/r0'
retry 60 caught_up node2 node1 ||
  fail "node1 does not follow node2: $(replay_link node1 node1) vs $(replay_link node2 node2); $(on node1 'dmesg | tail -20')"
echo "replay links: $(replay_link node1 node1) = $(replay_link node2 node2)"
case "$(replay_link node1 node1)" in log-*-node2,*) ;; *) fail "node1 does not replay node2's logfile";; esac

step "hand back to node1"
want=$(on node2 'mount /dev/mars/r0 /mnt/r0 && cd /mnt/r0/d && sha256sum f* | sort -k2; cd /; umount /mnt/r0')
on node1 'marsadm primary r0' || fail "handover back to node1 failed: $(on node1 'marsadm view r0')"
on node1 'mount /dev/mars/r0 /mnt/r0' || fail "xfs does not mount on node1"
assert_eq "$want" "$(sums node1)" "sha256 of all files on node1 after the hand back"
files node1 50 10
on node1 'umount /mnt/r0'
retry 60 caught_up node1 node2 ||
  fail "node2 does not follow node1: $(replay_link node1 node1) vs $(replay_link node2 node2)"
on node1 'marsadm view r0'
on node2 'marsadm view r0'

step "resource lists: checked for every resource before anything changes"
expect_status 5 on node2 'marsadm primary r0,nosuch'
assert_eq node1 "$(primary_link node2)" "primary after a refused list"
expect_status 5 on node2 'marsadm pause-replay nosuch,r0'
assert_eq 1 "$(on node2 'readlink /mars/resource-r0/todo-node2/allow-replay')" "replay switch after a refused list"

step "after down on both, the disks are equal"
on node1 'marsadm down r0' || fail "down on node1"
on node2 'marsadm down all' || fail "down all on node2"
same_disks $DISK node1 node2
