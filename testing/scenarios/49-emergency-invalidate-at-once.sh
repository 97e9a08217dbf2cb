#!/usr/bin/env bash
# Recovery from emergency mode right after a partition heals (docu/emergency.md): node1
# ceases logging while node2 is cut off (a hole after logfile 1, logging resumes in 11).
# At once after the heal, before node2 has pulled node1's tree anew, `invalidate` on
# node2 must start replay after the hole, not at the logfile before it that node2 last
# heard of: else node2's copy could never become consistent and its replay position
# would keep logfile 1 from being deleted on node1, whose /mars then stays full and its
# logging ceased, which in turn refuses node2's sync (nothing would ever move). marsadm
# decides from a fresh listing of node1; the recovery then completes.
source "$(dirname "$0")/../lib.sh"

DISK=vda
replicated_r0
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"

fio_pass() { # fio_pass SEED: all 64 MiB of /dev/mars/r0 written with data of SEED
  on node1 "fio --name=p$1 --filename=/dev/mars/r0 --rw=write --bs=256k --size=64M --direct=1 --iodepth=4 \
    --ioengine=psync --verify=crc32c --do_verify=0 --randseed=$1 --minimal >/dev/null" || fail "write pass $1 failed"
}

step "reserves: the last one 60 MiB below today's free space"
free=$(on node1 "df -m /mars | awk 'NR == 2 { print \$4 }'")
on node1 "cd /proc/sys/mars && echo 10 > required_free_space_1_mb && echo 10 > required_free_space_2_mb &&
  echo 10 > required_free_space_3_mb && echo $((free - 60)) > required_free_space_4_mb"

step "node2 cut off; node1 writes 3 x 64 MiB and ceases logging"
tb net cut node1 node2
for seed in 1 2 3; do fio_pass $seed; done
assert_eq 1 "$(on node1 'dmesg | grep -c "resource r0: ceased transaction logging"')" "cease message"
on node1 'readlink /mars/resource-r0/replay-node1'
echo "node2's view of node1: $(on node2 'readlink /mars/resource-r0/replay-node1')"

step "healed; at once invalidate on node2: replay starts after the hole"
tb net heal node1 node2
out=$(on node2 'marsadm invalidate r0 2>&1') || fail "invalidate: $out"
echo "$out"
grep -q "replay from log-000000011-node1 follow" <<<"$out" ||
  fail "invalidate started replay elsewhere than after the hole: $out; replay-node2 -> $(on node2 'readlink /mars/resource-r0/replay-node2')"

step "recovery completes: logfile 1 goes, logging resumes, node2 UpToDate, disks equal"
retry 30 on node1 'readlink /mars/resource-r0/replay-node2 | grep -q ^log-000000011-node1' || fail "node1 does not see node2's new replay link"
on node1 'marsadm log-delete-all r0' || fail "log-delete-all"
retry 60 on node1 'test "$(cat /proc/sys/mars/mars_emergency_mode)" -le 2' ||
  fail "level did not drop: $(on node1 'cat /proc/sys/mars/mars_emergency_mode; ls -l /mars/resource-r0; marsadm view r0')"
retry 30 on node1 'dmesg | grep -q "resource r0: resumed transaction logging in logfile 11"' || fail "logging did not resume"
on node1 'echo 30 > /proc/sys/mars/required_free_space_4_mb'
fio_pass 4
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate after invalidate: $(on node2 'marsadm view r0')"
on node2 "marsadm view r0" | grep -q "recovery stuck" && fail "view shows a stuck recovery on node2"
on node1 'marsadm down r0' && on node2 'marsadm down r0' || fail "down"
same_disks vda node1 node2
on node1 'marsadm up r0' && on node2 'marsadm up r0' || fail "up"
