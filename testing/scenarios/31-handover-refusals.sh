#!/usr/bin/env bash
# Refusals of `marsadm primary` (docu/failover.md): each with one clear line, exit 1
# (5 for a host that is no member), and the tree unchanged: a host that is not a member of the resource; a disk whose
# full sync is unfinished (also with --force); replay paused here; fetch paused
# (planned); the old primary unreachable (the hint names --force); --force without
# pause-fetch. Then a forced failover with the network cut and nothing written after
# the last replicated state: no split brain, node1 follows node2 once healed.
source "$(dirname "$0")/../lib.sh"

fresh_modules node1 node2
create_r0
join_cluster node2
primary_link() { on "$1" 'readlink /mars/resource-r0/primary'; }

# refused [--status=N] NODE PATTERN CMD: CMD on NODE exits N (default 1) with a message
# matching PATTERN, and the designated primary stays node1 on both nodes.
refused() {
  local status=1 node pattern out rc=0
  case "$1" in --status=*) status=${1#--status=}; shift ;; esac
  node=$1 pattern=$2
  shift 2
  out=$(on "$node" "$* 2>&1") || rc=$?
  echo "$out"
  assert_eq "$status" "$rc" "exit status of '$*' on $node"
  grep -q -- "$pattern" <<<"$out" || fail "'$*' on $node: message does not match '$pattern': $out"
  [ "$(wc -l <<<"$out")" -le 2 ] || fail "refusal is not a short message: $out"
  assert_eq node1 "$(primary_link node1)" "primary on node1 after '$*'"
  assert_eq node1 "$(primary_link "$node")" "primary on $node after '$*'"
}

step "not a member of the resource"
refused --status=5 node2 "not a member" marsadm primary r0

step "full sync unfinished: refused, also forced"
on node2 'echo 2048 > /proc/sys/mars/sync_limit_kb'
on node2 'marsadm join-resource r0 /dev/vdb >/dev/null' || fail "join-resource"
refused node2 "not a consistent copy" marsadm primary r0
on node2 'marsadm pause-fetch r0 >/dev/null'
refused node2 "not a consistent copy" marsadm primary --force r0
on node2 'marsadm resume-fetch r0 >/dev/null; echo 0 > /proc/sys/mars/sync_limit_kb'
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"

step "replay paused, fetch paused"
on node2 'marsadm pause-replay r0 >/dev/null'
refused node2 "replay is paused" marsadm primary r0
on node2 'marsadm resume-replay r0 >/dev/null; marsadm pause-fetch r0 >/dev/null'
refused node2 "fetch is paused" marsadm primary r0
on node2 'marsadm resume-fetch r0 >/dev/null'

step "forced without pause-fetch"
refused node2 "pause-fetch" marsadm primary --force r0

step "network cut: node1 unreachable, the hint names --force"
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=16 oflag=direct status=none'
on node2 'marsadm wait-resource r0 --until uptodate --timeout 60' || fail "node2 not UpToDate"
retry 30 caught_up node1 node2 || fail "not caught up"
tb net cut node1 node2
sleep 5
refused node2 "primary --force" marsadm primary r0

step "forced failover while cut, nothing written since: no split brain"
on node2 'marsadm pause-fetch r0 >/dev/null'
on node2 'marsadm primary --force r0' || fail "forced failover failed: $(on node2 'marsadm view r0')"
assert_eq 1 "$(on node2 'readlink /mars/resource-r0/actual-node2/is-primary')" "node2 is primary"
on node2 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=16 oflag=direct status=none'
tb net heal node1 node2
# node1 learns that node2 is designated; its device is closed, so it leaves the role and
# follows node2 (its history is a prefix of node2's).
retry 60 on node1 'test "$(readlink /mars/resource-r0/actual-node1/is-primary)" = 0' || fail "node1 did not leave the primary role"
retry 60 caught_up node2 node1 ||
  fail "node1 does not follow node2: $(on node1 'readlink /mars/resource-r0/replay-node1; dmesg | tail')"
for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks $DISK node1 node2

step "create-resource --force replaces the remains of a resource whose members are gone"
on node1 'marsadm leave-resource r0' || fail "leave-resource on node1"
retry 20 on node2 'test "$(readlink /mars/resource-r0/data-node1)" = .deleted' || fail "node2 did not learn that node1 left"
expect_status 1 on node2 'marsadm create-resource r0 /dev/vdb'
last=$(on node2 'ls /mars/resource-r0 | sed -n "s/^log-0*\([0-9]*\)-.*/\1/p" | sort -n | tail -1')
on node2 'marsadm create-resource --force r0 /dev/vdb' || fail "create-resource --force"
on node2 'marsadm wait-resource r0 --until primary --timeout 30' || fail "node2 not primary of the re-created r0"
case "$(on node2 'readlink /mars/resource-r0/replay-node2')" in
  "log-$(printf %09d $((last + 1)))-node2,"*) ;;
  *) fail "re-created r0 does not continue after logfile $last: $(on node2 'readlink /mars/resource-r0/replay-node2')" ;;
esac
test "$(on node2 'ls /mars/resource-r0 | grep -c "^log-"')" = 1 || fail "old logfiles left: $(on node2 'ls /mars/resource-r0')"
