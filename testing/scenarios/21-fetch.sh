#!/usr/bin/env bash
# Logfile fetch (port 7778): node2 joins resource r0 of node1 and copies node1's
# logfiles while node1 writes; the copies are byte-identical, fetch resumes after a
# network cut, pauses and resumes on request (also cluster-wide), and moves on to the
# next logfile when the primary starts one.
# The full sync is paused at once, so replay (which waits for the sync) never starts:
# this scenario is about fetch alone; scenario 22 covers sync and replay.
source "$(dirname "$0")/../lib.sh"

fresh_modules node1 node2
create_r0
join_cluster node2

writes() { # writes NODE FIRST COUNT: COUNT numbered 64 KiB blocks, fsync'ed
  on "$1" "i=$2; while [ \$i -lt $(($2 + $3)) ]; do
    head -c 65536 /dev/urandom | dd of=/dev/mars/r0 bs=65536 seek=\$i conv=fsync status=none || exit 1
    i=\$((i + 1)); done"
}
same_log() { # same_log NR: node2's copy of node1's logfile NR equals the original's records
  local f=/mars/resource-r0/log-$(printf %09d "$1")-node1
  # node1's current logfile goes on with zeros its logger wrote ahead: compare its records.
  local end
  end=$(log_end node1 $f)
  [ "$(on node1 "head -c $end $f | sha256sum")" = "$(on node2 "sha256sum < $f" 2>/dev/null)" ]
}

step "join-resource: node2 fetches node1's logfile while node1 writes"
writes node1 0 40
on node2 'marsadm join-resource r0 /dev/vdb && marsadm pause-sync r0' || fail "join-resource failed"
writes node1 40 40
retry 60 same_log 1 || fail "logfile 1 not fetched completely"
echo "fetched $(on node2 'stat -c %s /mars/resource-r0/log-000000001-node1') bytes of logfile 1"
# Once the primary's version link has caught up, nothing is left to fetch; everything
# fetched is still to be replayed (the sync is paused, so replay has not started).
retry 20 on node2 'test "$(marsadm view-fetch-rest r0)" = 0' || fail "view-fetch-rest: $(on node2 'marsadm view-fetch-rest r0')"
assert_eq "$(on node2 'stat -c %s /mars/resource-r0/log-000000001-node1')" "$(on node2 'marsadm view-replay-rest r0')" "view-replay-rest"
on node2 'marsadm view r0'
# Without a complete full sync the joined disk is no copy, and view must say so.
assert_eq "Inconsistent" "$(view_field node2 diskstate)" "diskstate of the joined disk"
assert_eq "PausedSync" "$(view_field node2 replstate)" "replstate of the joined disk"

step "join-resource refuses bad input"
expect_status 1 on node2 'marsadm join-resource r0 /dev/vdb'
expect_status 5 on node2 'marsadm join-resource r9 /dev/vdb'
expect_status 2 on node2 'marsadm join-resource r0'

step "a network cut stops fetch, healing resumes it"
# A 2 s timeout and a 12 s cut make the outage certain to fail several attempts (a short
# cut would be bridged by TCP retransmission inside one round, and nothing fails).
T=/proc/sys/mars/tcp_tuning_1_replication_traffic/tcp_timeout
on node2 "echo 2 > $T"
tb net cut node1 node2
writes node1 80 30
sleep 12
tb net heal node1 node2
retry 60 same_log 1 || fail "fetch did not resume after the cut"
on node2 "echo 10 > $T"
# The outage is logged once when it starts and once when it ends, not every retry.
failures=$(on node2 'dmesg | grep -c "fetch from node1 failed"')
assert_eq 1 "$failures" "outage log lines (several failed attempts)"
retry 20 on node2 'dmesg | grep -q "fetching from node1 again"' || fail "end of the outage not logged"

step "pause-fetch holds the copy where it is; resume-fetch catches up"
on node2 'marsadm pause-fetch r0' || fail "pause-fetch"
sleep 2
before=$(on node2 'stat -c %s /mars/resource-r0/log-000000001-node1')
writes node1 120 20
sleep 3
assert_eq "$before" "$(on node2 'stat -c %s /mars/resource-r0/log-000000001-node1')" "size while paused"
on node2 'marsadm resume-fetch r0' || fail "resume-fetch"
retry 60 same_log 1 || fail "fetch did not catch up after resume-fetch"

step "fetch_limit_kb limits the fetch rate"
on node2 'marsadm pause-fetch r0 >/dev/null'
writes node1 140 48   # 3 MiB to fetch
before=$(on node2 'stat -c %s /mars/resource-r0/log-000000001-node1')
on node2 'echo 256 > /proc/sys/mars/fetch_limit_kb && marsadm resume-fetch r0 >/dev/null'
sleep 4
got=$(( $(on node2 'stat -c %s /mars/resource-r0/log-000000001-node1') - before ))
echo "fetched $got bytes in about 4 s at 256 KiB/s"
# 4 s at 256 KiB/s, plus the round's start and one chunk of slack: far below 3 MiB.
[ "$got" -le $((6 * 256 * 1024)) ] || fail "fetched $got bytes in 4 s despite a 256 KiB/s limit"
[ "$got" -gt 0 ] || fail "nothing fetched under the limit"
on node2 'echo 0 > /proc/sys/mars/fetch_limit_kb'
retry 60 same_log 1 || fail "fetch did not catch up without the limit"

step "the -global forms switch every member, through the cluster"
on node1 'marsadm pause-fetch-global r0' || fail "pause-fetch-global"
retry 20 on node2 'test "$(readlink /mars/resource-r0/todo-node2/connect)" = 0' || fail "node2 did not get the global pause"
on node1 'marsadm disconnect r0 >/dev/null && marsadm connect r0 >/dev/null' || fail "aliases disconnect/connect"
on node1 'marsadm resume-fetch-global r0' || fail "resume-fetch-global"
retry 20 on node2 'test "$(readlink /mars/resource-r0/todo-node2/connect)" = 1' || fail "node2 did not get the global resume"

step "a new logfile on the primary is fetched after the old one"
on node1 'rmmod mars && modprobe mars'
retry 30 on node1 'test -b /dev/mars/r0' || fail "/dev/mars/r0 did not come back"
writes node1 200 20
retry 60 same_log 2 || fail "logfile 2 not fetched"
same_log 1 || fail "logfile 1 changed"

step "clean up"
for n in node1 node2; do on $n 'rmmod mars; rm -rf /mars/*'; done
echo ok
