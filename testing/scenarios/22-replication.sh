#!/usr/bin/env bash
# Replication end to end (design reference §1.6, §6, §9.2 D): node1 writes files on xfs
# on /dev/mars/r0 while node2 joins; node2's fast full sync sends only what differs
# (its disk was equal to node1's before the filesystem was made: less than 5% of the
# disk) and resumes where it was paused, then replays node1's logfiles in order and
# becomes UpToDate; pause/resume of
# replay and fetch change the states as described and converge after resume; at the end
# the replay links are equal on both and, after `down` on both, the disks are equal.
# testbed-kernels: 7.3 6.12  (the 6.12 subset: docu/install.md, "Supported kernels")
source "$(dirname "$0")/../lib.sh"

fresh_modules node1 node2
# Equal disks to start with (the fast-sync check counts what the sync sends): zeroed on
# the host, which is instant (dd of 512 MiB in the guest is not).
zero_disks vdb node1 node2
create_r0
on node1 'mkfs.xfs -q -f /dev/mars/r0 && mkdir -p /mnt/r0 && mount /dev/mars/r0 /mnt/r0'
join_cluster node2

# files NODE FIRST COUNT: COUNT files of 256 KiB under /mnt/r0, each fsync'ed.
files() {
  on "$1" "i=$2; while [ \$i -lt $(($2 + $3)) ]; do
    head -c 262144 /dev/urandom > /mnt/r0/f\$i && sync /mnt/r0/f\$i || exit 1
    i=\$((i + 1)); done"
}
replay_link() { on "$1" "readlink /mars/resource-r0/replay-$2"; }
uptodate() { [ "$(view_field node2 diskstate)" = UpToDate ]; }

step "join-resource while node1 writes files; the fast sync pauses, resumes, sends little"
files node1 0 20
sync_before=$(on node2 'cat /proc/sys/mars/received_bytes_2_sync')
files node1 20 40 &
writer=$!
on node2 'marsadm join-resource r0 /dev/vdb'
wait $writer || fail "writing files on node1 failed"
# The sync walks the disk at most at sync_limit_kb: slow enough to pause it half-way.
on node2 'echo 16384 > /proc/sys/mars/sync_limit_kb'
size=$(on node2 'marsadm view-resource-size r0')
retry 60 on node2 "test \$(marsadm view-sync-rest r0) -lt $((size - (64 << 20)))" || fail "sync does not progress: $(on node2 'marsadm view r0')"
on node2 'marsadm pause-sync r0' || fail "pause-sync"
retry 10 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-syncing)" = 0' || fail "sync still running"
assert_eq "PausedSync" "$(view_field node2 replstate)" "replstate while the sync is paused"
paused_at=$(on node2 'readlink /mars/resource-r0/syncstatus-node2')
sleep 3
assert_eq "$paused_at" "$(on node2 'readlink /mars/resource-r0/syncstatus-node2')" "syncstatus while paused"
[ "$paused_at" -gt 0 ] && [ "$paused_at" -lt "$size" ] || fail "syncstatus $paused_at is not half-way"
on node2 'echo 0 > /proc/sys/mars/sync_limit_kb'
on node2 'marsadm resume-sync r0' || fail "resume-sync"
retry 120 on node2 'test "$(marsadm view-sync-rest r0)" = 0' || fail "sync did not finish: $(on node2 'marsadm view r0')"
on node2 "dmesg | grep -q 'resuming the full sync at $paused_at of'" || fail "the sync did not resume at $paused_at"
sent=$(( $(on node2 'cat /proc/sys/mars/received_bytes_2_sync') - sync_before ))
echo "full sync of a ${size}-byte disk received ${sent} bytes over port 7779 ($((sent * 1000 / size))/1000 of the disk)"
[ "$sent" -lt $((size / 20)) ] || fail "fast sync sent ${sent} bytes, not less than 5% of ${size}"
on node2 'test -L /mars/resource-r0/syncpos-node2' || fail "no syncpos-node2 after the sync"
retry 120 uptodate || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
on node2 'marsadm view r0'
assert_eq 1 "$(on node2 'marsadm view-is-consistent r0')" "view-is-consistent"

step "pause-replay: fetch goes on, replay stops; resume-replay converges"
on node2 'marsadm pause-replay r0' || fail "pause-replay"
retry 10 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-replaying)" = 0' || fail "replay still running"
before=$(replay_link node2 node2)
files node1 60 20
retry 30 on node2 'test "$(marsadm view-fetch-rest r0)" = 0' || fail "fetch stopped while replay paused"
assert_eq "$before" "$(replay_link node2 node2)" "replay link while replay is paused"
assert_eq "PausedReplay" "$(view_field node2 replstate)" "replstate while paused"
case "$(view_field node2 diskstate)" in Outdated*R*) ;; *) fail "diskstate while paused: $(view_field node2 diskstate)";; esac
on node2 'marsadm view-1and1 r0' | grep -q '^  r0 Outdated\[R\] PausedReplay -SF-- Secondary node1$' ||
  fail "view-1and1 while paused: $(on node2 'marsadm view-1and1 r0')"
on node2 'marsadm resume-replay r0' || fail "resume-replay"
retry 60 uptodate || fail "not UpToDate after resume-replay: $(on node2 'marsadm view r0')"

step "pause-fetch: fetch and replay stop at the same place; resume-fetch converges"
on node2 'marsadm pause-fetch r0' || fail "pause-fetch"
retry 10 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-fetching)" = 0' || fail "fetch still running"
files node1 80 20
sleep 4
assert_eq "PausedFetch" "$(view_field node2 replstate)" "replstate while fetch is paused"
[ "$(view_field node2 fetch_rest)" -gt 0 ] || fail "fetch_rest while fetch is paused: $(on node2 'marsadm view r0')"
on node2 'marsadm resume-fetch r0' || fail "resume-fetch"
retry 60 uptodate || fail "not UpToDate after resume-fetch: $(on node2 'marsadm view r0')"

step "quiet: replay links equal; after down on both, the disks are equal"
on node1 'umount /mnt/r0'
retry 30 on node2 'test "$(marsadm view-replay-rest r0)" = 0 && test "$(marsadm view-fetch-rest r0)" = 0' || fail "not caught up"
retry 30 caught_up node1 node2 ||
  fail "replay links differ: $(replay_link node1 node1) vs $(replay_link node2 node2)"
echo "replay links: $(replay_link node1 node1) = $(replay_link node2 node2)"
for n in node1 node2; do
  on $n 'marsadm down r0' || fail "down on $n"
done
retry 30 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-attached)" = 0' || fail "node2 still attached"
# Hashed on the host: the module has closed (and so written back) the disks.
same_disks vdb node1 node2
