#!/usr/bin/env bash
# Forced failover when node2's copy of the logfile has garbage after its replay position
# (docu/failover.md): the valid prefix is replayed (also records fetched but not yet
# replayed), the garbage is cut and the kernel log says how many bytes; node2 becomes
# primary and its xfs mounts and passes xfs_repair -n.
source "$(dirname "$0")/../lib.sh"

replicated_r0 xfs
files() {
  on node1 "i=$1; while [ \$i -lt $(($1 + $2)) ]; do
    head -c 65536 /dev/urandom > /mnt/r0/f\$i && sync /mnt/r0/f\$i || exit 1
    i=\$((i + 1)); done"
}
files 0 20
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate"

step "node2: replay paused, more fetched, fetch paused, garbage appended to its copy"
on node2 'marsadm pause-replay r0 >/dev/null'
retry 10 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-replaying)" = 0' || fail "replay still running"
files 20 20
retry 60 on node2 'test "$(marsadm view-fetch-rest r0)" = 0' || fail "node2 did not fetch"
on node2 'marsadm pause-fetch r0 >/dev/null'
retry 10 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-fetching)" = 0' || fail "fetch still running"
link=$(on node2 'readlink /mars/resource-r0/replay-node2')
log=${link%%,*}
start=$(cut -d, -f2 <<<"$link")
valid=$(on node2 "stat -c %s /mars/resource-r0/$log")
[ "$valid" -gt "$start" ] || fail "nothing fetched beyond the replay position ($start of $valid)"
on node2 "head -c 5000 /dev/urandom >> /mars/resource-r0/$log"
echo "replay at $start, $((valid - start)) valid bytes not replayed, 5000 bytes of garbage after them"

step "primary --force on node2: valid prefix used, garbage cut"
on node2 'marsadm primary --force r0' || fail "forced failover: $(on node2 'marsadm view r0')"
on node2 "dmesg | grep '$log has 5000 bytes after its last valid record at $valid: dropped'" || fail "no report of the dropped garbage: $(on node2 'dmesg | tail')"
assert_eq "$valid" "$(on node2 "stat -c %s /mars/resource-r0/$log")" "node2's copy after the cut"
on node2 "dmesg | grep 'Forced takeover: replayed'" || fail "no forced takeover in the kernel log"
on node2 'mkdir -p /mnt/r0 && mount /dev/mars/r0 /mnt/r0' || fail "xfs does not mount on node2"
n=$(on node2 'ls /mnt/r0 | wc -l')
echo "node2 has $n files"
[ "$n" -ge 40 ] || fail "node2 misses files that were fetched before the failover ($n of 40)"
on node2 'umount /mnt/r0 && xfs_repair -n /dev/mars/r0 >/dev/null' || fail "xfs_repair -n found problems on node2"

step "clean up: node1's version is discarded"
on node1 'umount /mnt/r0'
retry 60 on node1 'test "$(readlink /mars/resource-r0/actual-node1/is-primary)" = 0' || fail "node1 did not leave the primary role"
on node1 'marsadm invalidate r0 >/dev/null' || fail "invalidate on node1"
on node1 'marsadm wait-resource r0 --until uptodate --timeout 300' ||
  fail "node1 not UpToDate after invalidate: $(on node1 'marsadm view r0; cd /mars/resource-r0 && for l in primary replay-* syncstatus-* todo-node1/*; do echo "$l -> $(readlink $l)"; done' | tr '\n' ';')"

# Replay reads a logfile in windows of 4 MiB from its start. A window that ends exactly
# at the end of a record scans "clean", like a window that ends in zeros; before 2026-12-04
# recovery and takeover stopped there and cut every record after it as zeros.
step "forced failover to node1 replays across a 4 MiB window ending at a record's end"
on node2 'marsadm log-rotate r0 >/dev/null' || fail "log-rotate on node2"
log=$(on node2 'cd /mars/resource-r0 && ls -d log-* | sort | tail -n 1')
retry 30 on node2 "readlink /mars/resource-r0/replay-node2 | grep -q '^$log,'" || fail "node2 does not log into $log"
retry 60 on node1 "readlink /mars/resource-r0/replay-node1 | grep -q '^$log,'" || fail "node1's replay does not reach $log: $(on node1 'readlink /mars/resource-r0/replay-node1')"
on node1 'marsadm pause-replay r0 >/dev/null'
retry 10 on node1 'test "$(readlink /mars/resource-r0/actual-node1/is-replaying)" = 0' || fail "replay still running on node1"
# Aligned records are a 512-byte head and the data: 63 of 64 KiB and one of 32 KiB end
# at 63 * 66048 + 33280 = 4 MiB. The 16 writes of 64 KiB after it must reach node1.
on node2 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=63 oflag=direct status=none &&
  dd if=/dev/urandom of=/dev/mars/r0 bs=32k count=1 seek=126 oflag=direct status=none &&
  head -c 1048576 /dev/urandom > /tmp/after &&
  dd if=/tmp/after of=/dev/mars/r0 bs=64k seek=200 oflag=direct status=none' || fail "writes on node2"
on node2 "marsadm cat /mars/resource-r0/$log | awk '\$2 == 4194304 { found = 1 } END { exit !found }'" \
  || fail "no record starts at 4 MiB of $log: $(on node2 "marsadm cat /mars/resource-r0/$log | head -70 | tail -8")"
after=$(on node2 'md5sum < /tmp/after')
retry 60 on node1 'test "$(marsadm view-fetch-rest r0)" = 0' || fail "node1 did not fetch"
on node1 'marsadm pause-fetch r0 >/dev/null'
valid=$(log_end node2 "/mars/resource-r0/$log")
on node1 'marsadm primary --force r0' || fail "forced failover to node1: $(on node1 'marsadm view r0')"
on node1 "dmesg | grep 'takeover: replayed [0-9]* records of $log'" || fail "no takeover replay of $log on node1"
assert_eq "$valid" "$(log_end node1 "/mars/resource-r0/$log")" "valid bytes of node1's $log after the takeover"
assert_eq "$after" "$(on node1 'dd if=/dev/mars/r0 bs=64k skip=200 count=16 iflag=direct status=none | md5sum')" "the writes after the first 4 MiB of $log on node1"
