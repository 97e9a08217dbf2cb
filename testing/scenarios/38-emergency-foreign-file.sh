#!/usr/bin/env bash
# Emergency mode, /mars filled by a foreign file until ENOSPC (design reference §9.2 I
# write_other_file; docu/emergency.md): with every reserve at 0 no level is ever
# reached, so the logger itself meets ENOSPC on the logfile. That must be treated like
# the last level: no write of the application fails (fio verify), logging ceases with a
# hole, node2 stops there consistent; with the file gone, logging resumes and
# `invalidate` brings node2 back to a disk equal to node1's.
source "$(dirname "$0")/../lib.sh"

DISK=vda
replicated_r0
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"

fio_pass() { # fio_pass SEED: all 64 MiB of /dev/mars/r0 overwritten, must succeed
  on node1 "fio --name=p$1 --filename=/dev/mars/r0 --rw=write --bs=256k --size=64M --direct=1 --iodepth=4 \
    --ioengine=psync --verify=crc32c --do_verify=0 --randseed=$1 --minimal >/dev/null" || fail "write pass $1 failed"
}
fio_verify() { # fio_verify NODE DEVICE SEED
  on "$1" "fio --name=p$3 --filename=$2 --rw=write --bs=256k --size=64M --direct=1 --ioengine=psync \
    --verify=crc32c --verify_only --randseed=$3 --minimal >/dev/null" || fail "$2 on $1 does not hold pass $3"
}

step "no reserves; /mars filled by a foreign file up to ENOSPC, leaving 40 MiB"
on node1 'cd /proc/sys/mars && for i in 1 2 3 4; do echo 0 > required_free_space_${i}_mb; done'
free=$(on node1 "df -m /mars | awk 'NR == 2 { print \$4 }'")
on node1 "fallocate -l $(((free - 40) << 20)) /mars/filler && sync" || fail "filler"
on node1 'df -m /mars'

step "node1 writes 2 x 64 MiB: the logfile meets ENOSPC; every write succeeds"
for seed in 1 2; do fio_pass $seed; done
fio_verify node1 /dev/mars/r0 2
on node1 'dmesg | grep -e "logfile" -e "emergency" -e "ceased"' || true
assert_eq 1 "$(on node1 'dmesg | grep -c "resource r0: ceased transaction logging"')" "cease message"
assert_eq 1 "$(on node1 'marsadm view-is-emergency r0')" "view-is-emergency on node1"
on node1 'marsadm view r0'

step "node2 stops at the hole, consistent"
orphan() { test "$(view_field node2 replstate)" = Orphan; }
retry 120 orphan || fail "node2 not Orphan: $(on node2 'marsadm view r0')"
assert_eq True "$(view_field node2 is_consistent)" "node2 consistent at the hole"

step "the filler goes: logging resumes; invalidate on node2"
on node1 'rm /mars/filler'
retry 60 on node1 'dmesg | grep -q "resource r0: resumed transaction logging"' || fail "logging did not resume: $(on node1 'marsadm view r0')"
fio_pass 3
on node2 'marsadm invalidate r0' || fail "invalidate"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate after invalidate: $(on node2 'marsadm view r0')"
retry 60 on node2 "test \"\$(readlink /mars/resource-r0/replay-node2 | cut -d, -f1,2)\" = \"\$(readlink /mars/resource-r0/replay-node1 | cut -d, -f1,2)\"" ||
  fail "node2 did not replay up to node1"
on node1 'marsadm down r0' && on node2 'marsadm down r0' || fail "down"
same_disks vda node1 node2
fio_verify node2 /dev/vda 3
on node1 'marsadm up r0' && on node2 'marsadm up r0' || fail "up"
