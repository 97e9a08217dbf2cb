#!/usr/bin/env bash
# Emergency mode, /mars filled by the application (design reference §5.7, §9.2 I;
# docu/emergency.md): node1 writes to /dev/mars/r0 while node2 is cut off, until
# /mars runs full. Every level is reached in order, each message appears once, every
# write of the application succeeds (fio verify), and node1 ceases logging and leaves a
# hole in the logfile sequence. node2, healed, stops at the hole: consistent, outdated,
# Orphan. Recovery as docu/emergency.md says: `invalidate` on node2 (its sync waits),
# then log-delete-all on node1 frees the logfile before the hole; logging resumes after
# the hole, and node2 syncs and becomes UpToDate with a disk equal to node1's.
source "$(dirname "$0")/../lib.sh"

DISK=vda
replicated_r0
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"

# fio_pass SEED: overwrites all 64 MiB of /dev/mars/r0 with data of this seed (crc32c
# verify headers), direct I/O; must succeed.
fio_pass() {
  on node1 "fio --name=p$1 --filename=/dev/mars/r0 --rw=write --bs=256k --size=64M --direct=1 --iodepth=4 \
    --ioengine=psync --verify=crc32c --do_verify=0 --randseed=$1 --minimal >/dev/null" || fail "write pass $1 failed"
}
fio_verify() { # fio_verify NODE DEVICE SEED: the device holds what pass SEED wrote
  on "$1" "fio --name=p$3 --filename=$2 --rw=write --bs=256k --size=64M --direct=1 --ioengine=psync \
    --verify=crc32c --verify_only --randseed=$3 --minimal >/dev/null" || fail "$2 on $1 does not hold pass $3"
}

# Small reserves keep the logfile before the hole short (node2 fetches and replays it);
# levels crossed between two measurements are each logged, in order.
step "reserves: each level 10 MiB apart, the last one 60 MiB below today's free space"
free=$(on node1 "df -m /mars | awk 'NR == 2 { print \$4 }'")
on node1 "cd /proc/sys/mars && echo 10 > required_free_space_1_mb && echo 10 > required_free_space_2_mb &&
  echo 10 > required_free_space_3_mb && echo $((free - 60)) > required_free_space_4_mb"
assert_eq 0 "$(on node1 'cat /proc/sys/mars/mars_emergency_mode')" "level before the writes"
assert_eq 0 "$(on node1 'marsadm view-is-emergency r0')" "view-is-emergency before"

step "node2 cut off; node1 writes 3 x 64 MiB, more than /mars can log"
tb net cut node1 node2
for seed in 1 2 3; do fio_pass $seed; done
fio_verify node1 /dev/mars/r0 3
on node1 'dmesg | grep -e "emergency level" -e "ceased transaction logging"' || true

step "every level reached in order, each message once"
levels=$(on node1 'dmesg | grep -o "emergency level [1-4]:" | cut -c17')
assert_eq "1 2 3 4" "$(echo $levels)" "levels in the kernel log, in order"
assert_eq 1 "$(on node1 'dmesg | grep -c "resource r0: ceased transaction logging"')" "cease message"
# Level 4 ceased logging; the RAM buffer the ceased primary no longer fills counts as
# space again, so the level may fall to 3 a round later (docu/emergency.md). The resource
# stays ceased: it resumes only at level 2 or lower.
level=$(on node1 'cat /proc/sys/mars/mars_emergency_mode')
[ "$level" = 4 ] || [ "$level" = 3 ] || fail "level after the writes: expected 4 or 3, got '$level'"
assert_eq 1 "$(on node1 'marsadm view-is-emergency r0')" "view-is-emergency on node1"
assert_eq EmergencyMode "$(view_field node1 replstate)" "replstate of node1"
on node1 'marsadm view r0'
rest=$(on node1 'marsadm view-rest-space r0')
total=$(on node1 'marsadm view-total-space r0')
[ "$rest" -lt "$total" ] || fail "rest space $rest not below total $total"
hole=$(on node1 'ls /mars/resource-r0 | grep "^log-.*-node1$" | sort | tail -1')
echo "hole logfile: $hole"

step "node2, healed, fetches up to the hole and stops there: consistent, Orphan"
tb net heal node1 node2
orphan() { test "$(view_field node2 replstate)" = Orphan; }
healed=$SECONDS
retry 300 orphan || fail "node2 not Orphan: $(on node2 'marsadm view r0')"
echo "node2 Orphan $((SECONDS - healed)) s after the heal"
on node2 'marsadm view r0'
assert_eq True "$(view_field node2 is_consistent)" "node2 consistent at the hole"
retry 30 on node2 'dmesg | grep -q "replay stopped: logfile sequence has a hole"' || fail "node2 did not log the hole"

step "a handover to node2 is refused while node1 is in emergency"
out=$(on node2 'marsadm primary r0 2>&1') && fail "handover accepted: $out"
grep -q "emergency" <<<"$out" || fail "refusal does not name the emergency: $out"

step "recovery: invalidate on node2 (its sync waits), log-delete-all on node1 frees the logfile before the hole"
out=$(on node2 'marsadm invalidate r0 2>&1') || fail "invalidate: $out"
echo "$out"
grep -q "emergency mode" <<<"$out" || fail "invalidate does not warn of the emergency: $out"
# Once node1 knows of node2's new replay position, the logfile before the hole is replayed
# by every member (node2 gave up its copy) and can go.
retry 30 on node1 'readlink /mars/resource-r0/replay-node2 | grep -q ^log-000000011-node1' || fail "node1 does not see node2's new replay link"
on node1 'marsadm log-delete-all r0' || fail "log-delete-all"
retry 60 on node1 'test "$(cat /proc/sys/mars/mars_emergency_mode)" -le 2' || fail "level did not drop: $(on node1 'cat /proc/sys/mars/mars_emergency_mode')"
retry 30 on node1 'dmesg | grep -q "resource r0: resumed transaction logging in logfile 11"' || fail "logging did not resume"
# The module reports it in its next round (within a second).
retry 10 on node1 'test "$(marsadm view-is-emergency r0)" = 0' || fail "view-is-emergency after space returned: $(on node1 'marsadm view-is-emergency r0')"
# (node2, syncing, fetches: a secondary follows node1.)
replicating() { test "$(view_field node1 replstate)" = Replicating; }
retry 20 replicating || fail "replstate of node1 after space returned: $(view_field node1 replstate)"
# The rest of the scenario is no test of the levels: the last reserve back to normal.
on node1 'echo 30 > /proc/sys/mars/required_free_space_4_mb'
fio_pass 5

step "node2's sync and replay: UpToDate, disks equal"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate after invalidate: $(on node2 'marsadm view r0')"
fio_pass 6
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
retry 60 on node2 "test \"\$(readlink /mars/resource-r0/replay-node2 | cut -d, -f1,2)\" = \"\$(readlink /mars/resource-r0/replay-node1 | cut -d, -f1,2)\"" ||
  fail "node2 did not replay up to node1"
fio_verify node1 /dev/mars/r0 6
on node1 'marsadm down r0' && on node2 'marsadm down r0' || fail "down"
same_disks vda node1 node2
fio_verify node2 /dev/vda 6
on node1 'marsadm up r0' && on node2 'marsadm up r0' || fail "up"
