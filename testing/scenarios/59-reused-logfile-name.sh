#!/usr/bin/env bash
# A copy of another logfile under the name of the next one (docu/replication.md, "A copy
# is compared with its source's logfile"): after a split brain and `invalidate`, a host
# writes logfile numbers again that it had written on the discarded side, and a member
# may still hold its copy of the discarded logfile of that name (found by the protocol
# simulation). Here node2's copy of logfile N+2 is planted by hand, with the records of
# logfile N (older writes of blocks 0-7 that logfile N+1 overwrote). node2's fetch must
# find that the copy is not node1's logfile N+2, cut it and fetch it anew, and its
# replay must not apply the planted records first: the disks end equal.
# Without the comparison, or with replay entering copies the fetch has not confirmed,
# node2's replay applies the planted records (blocks 0-7 go back to a) and does not
# catch up (checked with the second: its replay moved on to the planted copy 30 ms
# before the resumed fetch compared it). In that run replay did not move on while the
# fetch was paused (it waited at the end of logfile N+1 for the fetch), so the check
# during the pause alone does not catch it.
source "$(dirname "$0")/../lib.sh"
DISK=vda

replicated_r0
uptodate() { [ "$(view_field node2 diskstate)" = UpToDate ]; }
retry 180 uptodate || fail "node2 not UpToDate after joining: $(on node2 'marsadm view r0')"
# pattern NODE CHAR BLOCK: 8 blocks of 4 KiB of CHAR from BLOCK on, synced.
pattern() { on "$1" "head -c 32768 /dev/zero | tr '\\0' '$2' | dd of=/dev/mars/r0 bs=4k seek=$3 oflag=direct conv=fsync status=none"; }
current() { on node1 'readlink /mars/resource-r0/replay-node1' | sed 's/^log-0*\([0-9]*\)-.*/\1/'; }

step "logfile N: blocks 0-7 = a; logfile N+1: blocks 0-7 = b"
on node1 'marsadm log-rotate r0 >/dev/null' || fail "log-rotate"
n=$(current)
pattern node1 a 0 || fail "write a"
on node1 'marsadm log-rotate r0 >/dev/null' || fail "log-rotate"
pattern node1 b 0 || fail "write b"
retry 60 caught_up node1 node2 || fail "node2 did not catch up"
copy=$(printf 'log-%09d-node1' "$n")
planted=$(printf 'log-%09d-node1' $((n + 2)))

step "node2's fetch paused; $planted planted there as a copy of $copy"
on node2 'marsadm pause-fetch r0 >/dev/null' || fail "pause-fetch"
retry 30 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-fetching)" = 0' || fail "the fetch of node2 did not stop"
on node2 "cp -p /mars/resource-r0/$copy /mars/resource-r0/$planted" || fail "planting $planted"

step "node1 begins logfile N+2 and writes blocks 8-15; node2's replay must not enter the planted copy"
on node1 'marsadm log-rotate r0 >/dev/null' || fail "log-rotate"
pattern node1 c 8 || fail "write c"
version=$(printf 'version-%09d-node1' $((n + 2)))
retry 30 on node2 "test -L /mars/resource-r0/$version" || fail "node2 did not learn of logfile N+2"
sleep 3
replay=$(on node2 'readlink /mars/resource-r0/replay-node2')
case "$replay" in
  "$planted"*) fail "node2's replay entered the planted copy while its fetch was paused: $replay" ;;
esac

step "node2's fetch resumes: the copy is cut and fetched anew"
on node2 'marsadm resume-fetch r0 >/dev/null' || fail "resume-fetch"
retry 60 caught_up node1 node2 || fail "node2 did not catch up: $(on node2 'marsadm view r0')"
on node2 "dmesg | grep 'the copy of $planted here is another logfile than node1.s of that name'" || fail "no message about the planted copy"
for h in node1 node2; do on $h "marsadm down r0" || fail "down on $h"; done
same_disks $DISK node1 node2 || { disk_diff $DISK node1 node2; fail "the disks differ"; }
