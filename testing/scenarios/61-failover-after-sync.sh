#!/usr/bin/env bash
# A forced failover to a host that has less of the logfile than a new member's full
# sync copied (docu/replication.md, "Fast full sync"): node2 lags (its fetch paused),
# node3 joins and its sync copies node1's disk with writes node2 never gets; node1 is
# cut off and node2 made primary by force. node3's replay must not follow node2 from
# the fork as if its disk were a copy of node2's history: its disk holds node1's writes
# after the fork. Its replay stops (VERSION MISMATCH) instead of calling the mix
# UpToDate; invalidated, it becomes a copy of node2's. (Found by reading the switchover
# rule, 2026-12-07: without the check node3 showed UpToDate with a disk that differed
# from node2's.)
# Raw writes on the 64 MiB scratch disk keep syncs and checksums cheap.
source "$(dirname "$0")/../lib.sh"
DISK=vda

three_nodes_r0
write_some() { on "$1" 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=32 seek='"$2"' oflag=direct status=none' || fail "write on $1"; }
replay_link() { on "$1" "readlink /mars/resource-r0/replay-$1"; }
write_some node1 0
on node2 "marsadm join-resource r0 /dev/$DISK >/dev/null" || fail "join-resource on node2"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node2 not UpToDate"
retry 60 caught_up node1 node2 || fail "node2 does not catch up: $(replay_link node2) vs $(replay_link node1)"

step "node2's fetch paused; node3 joins, and its sync copies writes node2 never gets"
on node2 'marsadm pause-fetch r0 >/dev/null' || fail "pause-fetch on node2"
lag=$(replay_link node2)
on node3 'echo 4096 > /proc/sys/mars/sync_limit_kb'
on node3 "marsadm join-resource r0 /dev/$DISK >/dev/null && marsadm pause-fetch r0 >/dev/null" || fail "join-resource on node3"
size=$(on node3 'marsadm view-resource-size r0')
retry 60 on node3 'test "$(readlink /mars/resource-r0/syncstatus-node3)" -gt 0' ||
  fail "node3's sync does not start: $(on node3 'marsadm view r0')"
write_some node1 100
on node3 'echo 0 > /proc/sys/mars/sync_limit_kb'
retry 120 on node3 "test \"\$(readlink /mars/resource-r0/syncstatus-node3)\" = $size" ||
  fail "node3's sync does not end: $(on node3 'marsadm view r0')"
syncpos=$(on node3 'readlink /mars/resource-r0/syncpos-node3')
echo "node2 at $lag, node3's sync ended at $syncpos"
[ "${syncpos%%,*}" = "${lag%%,*}" ] && [ "$(echo "$syncpos" | cut -d, -f2)" -gt "$(echo "$lag" | cut -d, -f2)" ] ||
  fail "setup: node3's sync did not end in node2's logfile beyond node2 ($syncpos vs $lag)"

step "node1 cut off; forced failover to node2, which writes on from where it lagged"
tb net cut node1 node2
tb net cut node1 node3
# (The next scenario on this testbed needs node1 reachable, also after a failure here.)
trap 'tb net heal node1 node2; tb net heal node1 node3' EXIT
on node2 'marsadm primary --force r0' || fail "forced failover to node2"
write_some node2 200
on node3 'marsadm resume-fetch r0 >/dev/null' || fail "resume-fetch on node3"

step "node3 stops at the fork instead of calling its disk a copy of node2's"
retry 60 on node3 'dmesg | grep -q "replay stopped: VERSION MISMATCH"' ||
  fail "node3's replay did not stop at the fork: $(replay_link node3), $(on node3 'marsadm view r0; marsadm view-diskstate r0')"
state=$(on node3 'marsadm view-diskstate r0')
[ "$state" != UpToDate ] || fail "node3 shows UpToDate with node1's writes after the fork"
# The stop shows in view (text, JSON) and in the metrics, not only in the kernel log.
retry 10 on node3 'marsadm view r0 | grep -q "REPLAY STOPPED: VERSION MISMATCH"' || fail "view on node3 does not show the stop: $(on node3 'marsadm view r0')"
on node3 'marsadm view r0 --json' | python3 -c 'import json, sys; r = json.load(sys.stdin)["resources"][0]; assert r["replay_stopped"] == "VersionMismatch" and "invalidate" in r["emergency"]["hint"], r' ||
  fail "view --json on node3: no replay_stopped"
on node3 'marsadm metrics' | grep -qx 'mars_resource_replay_stopped{resource="r0"} 1' || fail "metrics on node3: no replay stop"
on node3 'marsadm view r0'

step "node3 invalidated: a copy of node2's"
on node3 'marsadm invalidate r0' || fail "invalidate on node3"
on node3 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node3 not UpToDate after invalidate: $(on node3 'marsadm view r0')"
[ "$(on node3 'marsadm view r0 --json' | python3 -c 'import json, sys; print(json.load(sys.stdin)["resources"][0]["replay_stopped"])')" = None ] ||
  fail "node3 still shows a replay stop after invalidate"
write_some node2 300
retry 60 caught_up node2 node3 || fail "node3 does not follow node2: $(replay_link node3) vs $(replay_link node2)"
for n in node2 node3; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks $DISK node2 node3
