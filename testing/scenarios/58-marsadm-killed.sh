#!/usr/bin/env bash
# marsadm killed with SIGKILL in the middle of a state-changing command (docu/reliability.md,
# "Two marsadm at once, and a killed one"): join-resource, invalidate, primary (both
# ways), log-rotate, the pause/resume switches, down/up, log-purge-all and
# leave-resource, each killed a moment after it started; then the same
# command is run again and must complete, and the cluster must converge: node2 follows
# the primary, and at the end the disks are equal. marsadm changes the tree one atomic
# link at a time, in an order a second run completes; its lock goes with the process.
source "$(dirname "$0")/../lib.sh"
DISK=vda

# killed NODE DELAY ARGS: `marsadm ARGS` on NODE, SIGKILLed DELAY seconds after it started;
# says whether the kill landed before it ended.
killed() {
  local rc
  rc=$(on "$1" "marsadm $3 >/tmp/killed.out 2>&1 & p=\$!; sleep $2; kill -9 \$p 2>/dev/null; wait \$p; echo \$?")
  if [ "$rc" = 137 ]; then
    echo "marsadm $3 on $1: killed after $2 s"
  else
    echo "marsadm $3 on $1: had ended after $2 s (exit $rc): $(on "$1" 'cat /tmp/killed.out')"
  fi
}
uptodate() { on node2 'marsadm wait-resource r0 --until uptodate --timeout 240' || fail "node2 not UpToDate after $1: $(on node2 'marsadm view r0')"; }
write_on() { on "$1" "dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=16 seek=$2 oflag=direct status=none" || fail "writing on $1"; }
follows() { retry 120 caught_up "$1" "$2" || fail "$2 does not follow $1: $(on "$2" 'marsadm view r0')"; }

fresh_modules node1 node2
zero_disks $DISK node1 node2
create_r0 /dev/$DISK
write_on node1 0
join_cluster node2

for d in 0.1 0.3; do
  step "join-resource on node2, killed after $d s, then run again"
  killed node2 $d "join-resource r0 /dev/$DISK"
  # A join killed after it wrote the membership link (data-node2) is complete but for
  # `attach`: `up` does the rest; any other one is simply run again.
  out=$(on node2 "marsadm join-resource r0 /dev/$DISK 2>&1") || { grep -q "already a member" <<<"$out" && on node2 'marsadm up r0'; } ||
    fail "join-resource again after the kill: $out"
  uptodate "join-resource killed after $d s"
  if [ $d = 0.1 ]; then
    on node2 'marsadm down r0 && marsadm leave-resource r0' || fail "leave-resource for the second round"
  fi
done

step "invalidate on node2, killed, then run again"
killed node2 0.2 "invalidate r0"
on node2 'marsadm invalidate r0' || fail "invalidate again after the kill"
uptodate "invalidate killed"
write_on node1 16
follows node1 node2

step "primary on node2 (handover), killed, then run again"
killed node2 0.5 "primary r0"
on node2 'marsadm primary r0' || fail "primary on node2 again after the kill: $(on node2 'marsadm view r0')"
write_on node2 32
follows node2 node1

step "primary on node1 (handover back), killed, then run again"
killed node1 0.5 "primary r0"
on node1 'marsadm primary r0' || fail "primary on node1 again after the kill: $(on node1 'marsadm view r0')"
write_on node1 48
follows node1 node2

step "log-rotate on node1, killed, then run again"
killed node1 0.1 "log-rotate r0"
on node1 'marsadm log-rotate r0' || fail "log-rotate again after the kill"
write_on node1 64
follows node1 node2

step "switches, killed each, then run again and undone"
for sw in "node2 pause-replay resume-replay" "node2 pause-fetch resume-fetch" "node2 pause-sync resume-sync" \
  "node2 down up" "node1 pause-replay-global resume-replay-global" "node1 log-purge-all log-purge-all"; do
  read -r node cmd undo <<<"$sw"
  killed $node 0.05 "$cmd r0"
  on $node "marsadm $cmd r0 >/dev/null" || fail "$cmd on $node again after the kill"
  on $node "marsadm $undo r0 >/dev/null" || fail "$undo on $node after the kill"
done
write_on node1 80
follows node1 node2

step "leave-resource on node2, killed, then run again; join again"
on node2 'marsadm down r0' || fail "down on node2"
killed node2 0.1 "leave-resource r0"
out=$(on node2 'marsadm leave-resource r0 2>&1') || grep -q "not a member\|is no member" <<<"$out" || fail "leave-resource again after the kill: $out"
on node2 'test ! -b /dev/mars/r0' || fail "node2 still has the device after leaving"
on node2 "marsadm join-resource r0 /dev/$DISK >/dev/null" || fail "join-resource after leaving"
uptodate "leave-resource killed"
follows node1 node2

for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks $DISK node1 node2
