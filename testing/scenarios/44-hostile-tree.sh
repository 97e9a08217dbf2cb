#!/usr/bin/env bash
# A misbehaving member (issue 10; docu/cluster.md "Ownership", "Paths"): a member's
# own /mars tree holds planted symlinks. The other member merges none of what it may
# not set (this host's data/replay/syncstatus links, its address, a bad primary, a
# unit link that is no unit name, a logfile name as a symlink, a symlink for a
# directory) and stamps its own links anew so the peer takes them back, follows no
# symlink in /mars
# (fetch serving and fetch writing), does not oops on a symlink where a directory is
# expected, and replication between the two goes on: /etc and the disks unchanged.
# Every check is made and the failures are listed at the end (one run shows them all).
source "$(dirname "$0")/../lib.sh"

DISK=vda
R=/mars/resource-r0
problems=()
bad() { echo "PROBLEM: $*" >&2; problems+=("$*"); }

# FROM's liveness link holds its Lamport clock, rewritten every round. That clock runs
# ahead of FROM's `date` when another guest's clock is ahead (a loaded host), so waits
# compare it with itself: stamp FROM is the value FROM has now (the digits, nanoseconds).
stamp() { on "$1" "readlink /mars/actual-$1/time | tr -d ."; }
# heard NODE FROM S: NODE has a newer liveness link of FROM than S, so it has pulled a
# listing FROM made after S was read: anything FROM had then.
heard() { local t; t=$(on "$1" "readlink /mars/actual-$2/time | tr -d .") && [ "${t:-0}" -gt "$3" ]; }
# plant NODE LINK VALUE: a symlink in NODE's tree with a stamp 60 s ahead of NODE's
# Lamport clock (newer than anything in the cluster now), put in place atomically (the
# module may write LINK meanwhile).
plant() { on "$1" "d=\$(dirname $2) && mkdir -p \$d && rm -f \$d/.plant && ln -s '$3' \$d/.plant && s=\$(readlink /mars/actual-$1/time) && touch -h -d @\$((\${s%%.*} + 60)) \$d/.plant && mv -fT \$d/.plant $2"; }
etc_sum() { on "$1" 'cat /etc/passwd /etc/group /etc/hosts | sha256sum'; }
dropped() { on "$1" 'cat /proc/sys/mars/dropped_tree_entries 2>/dev/null || echo 0'; }
cur_log() { on node1 "readlink $R/replay-node1 | cut -d, -f1"; }
oops() { klog "$1" | grep -E "BUG:|Oops|general protection|Call Trace" && bad "$1: kernel oops"; true; }

fresh_modules node1 node2
# Kernel log lines of this scenario only (an earlier one may have run on these boots).
declare -A mark
for n in node1 node2; do mark[$n]=$(on $n 'dmesg | wc -l'); done
klog() { on "$1" "dmesg | tail -n +$((${mark[$1]} + 1))"; }
zero_disks $DISK node1 node2
etc1=$(etc_sum node1) etc2=$(etc_sum node2)
create_r0 /dev/$DISK
join_cluster node2
# node2 fetches nothing yet (logfile 1 is empty): the first attack needs it behind.
on node2 "marsadm join-resource r0 /dev/$DISK >/dev/null && marsadm pause-fetch r0 >/dev/null" || fail "join-resource on node2"

step "fetch serving: node1's logfile 1 replaced by a symlink to /etc/passwd; node2 fetches it"
w1='dd if=/dev/urandom of=/dev/mars/r0 bs=4096 count=1 conv=fsync status=none'
on node1 "$w1 && marsadm log-rotate r0 >/dev/null && $w1" || fail "log-rotate"
retry 20 on node1 "readlink $R/replay-node1 | grep -q '^log-000000002-node1,'" || fail "node1 did not move to logfile 2"
on node1 "cd $R && mv log-000000001-node1 /tmp/log1 && ln -s /etc/passwd log-000000001-node1"
on node2 'marsadm resume-fetch r0 >/dev/null'
# Either node2 copies something, or node1 refuses to serve the symlink.
refused() { klog node2 | grep -q 'fetch of resource-r0/log-000000001-node1 from node1: not a regular file'; }
retry 30 eval 'on node2 "grep -q root: $R/log-000000001-node1" || refused' || bad "node2 neither fetched nor was refused"
on node2 "grep -q root: $R/log-000000001-node1" && bad "node2 fetched /etc/passwd from node1 through a symlink"
on node1 "cd $R && rm log-000000001-node1 && mv /tmp/log1 log-000000001-node1"
on node2 "rm -f $R/log-000000001-node1"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' >/dev/null || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"

step "node2 plants node1's own state, its address, a bad primary, a logfile symlink, a directory symlink"
on node1 'marsadm set-emergency-limit r0 30' || fail "set-emergency-limit on node1"
t=$(stamp node1)
retry 30 heard node2 node1 $t || fail "node2 did not pull node1's tree"
before=$(on node1 "for l in $R/data-node1 $R/replay-node1 $R/syncstatus-node1 $R/primary /mars/ips/ip-node1 $R/todo-node1/emergency-limit; do readlink \$l; done")
drops=$(dropped node1)
ip1=$(on node2 'readlink /mars/ips/ip-node1')
plant node2 $R/data-node1 /dev/vdd
plant node2 $R/replay-node1 log-000000001-node1,0,0
plant node2 $R/syncstatus-node1 0
plant node2 $R/primary ../../etc
plant node2 /mars/ips/ip-node1 10.77.0.99
plant node2 $R/log-000000001-x /etc/passwd
plant node2 $R/todo-node8 /tmp
# Another member's emergency-limit (about its /mars only): this host's, and a third's.
plant node2 $R/todo-node1/emergency-limit 1
plant node2 $R/todo-node3/emergency-limit 1
# A unit link any member may set, but only to a unit name: never a path or a command.
plant node2 $R/systemd-start-unit '../../etc/x.service;reboot'
t=$(stamp node2)
retry 30 heard node1 node2 $t || fail "node1 did not pull node2's tree"
after=$(on node1 "for l in $R/data-node1 $R/replay-node1 $R/syncstatus-node1 $R/primary /mars/ips/ip-node1 $R/todo-node1/emergency-limit; do readlink \$l; done")
[ "$before" = "$after" ] || bad "node1 took node2's links about node1: $(echo $before) -> $(echo $after)"
on node1 "test -L $R/log-000000001-x" && bad "node1 merged a symlink named like a logfile: $(on node1 "readlink $R/log-000000001-x")"
on node1 "test -L $R/todo-node8" && bad "node1 merged a symlink for a directory"
on node1 "test -L $R/todo-node3/emergency-limit" && bad "node1 merged node3's emergency-limit from node2"
on node1 "test -L $R/systemd-start-unit" && bad "node1 merged a unit link that is no unit name: $(on node1 "readlink $R/systemd-start-unit")"
[ "$(dropped node1)" -gt "$drops" ] || bad "dropped_tree_entries did not count ($drops -> $(dropped node1))"
klog node1 | grep "dropped .*from node2" | head -3 || bad "no log line on node1 for the dropped entries"
# node2's own view back to normal (its planted links replaced by fresh correct ones).
on node2 "rm -f $R/log-000000001-x $R/todo-node8 $R/systemd-start-unit $R/data-node1 $R/todo-node3/emergency-limit"
plant node2 /mars/ips/ip-node1 "$ip1"
plant node2 $R/primary node1
# node1 stamps its own links anew when a peer has newer copies (a copy of a link that a
# crash took back on node1, or a forgery): node2, reaching node1 again, takes node1's
# values back by itself.
own_again() { [ "$(on node2 "readlink $R/syncstatus-node1; readlink $R/replay-node1; readlink $R/todo-node1/emergency-limit")" = "$(on node1 "readlink $R/syncstatus-node1; readlink $R/replay-node1; readlink $R/todo-node1/emergency-limit")" ]; }
retry 30 own_again || bad "node2 keeps the planted copies of node1's own links: $(on node2 "readlink $R/syncstatus-node1; readlink $R/replay-node1; readlink $R/todo-node1/emergency-limit")"

step "fetch writing: a planted log-<nr>-node1 symlink in a listing, and one in node2's own tree"
next=$(( 10#$(cur_log | cut -d- -f2) + 1 ))
name=$(printf 'log-%09d-node1' $next)
plant node1 $R/$name /tmp/mars-victim-1
t=$(stamp node1)
retry 30 heard node2 node1 $t || fail "node2 did not pull node1's tree"
on node2 "test -L $R/$name" && bad "node2 merged $name -> $(on node2 "readlink $R/$name")"
on node1 "rm $R/$name"
on node2 "rm -f $R/$name"
# As if it had come through: the fetch client must not write through it.
plant node2 $R/$name /tmp/mars-victim-2
on node1 "$w1 && marsadm log-rotate r0 >/dev/null" || fail "log-rotate"
retry 20 on node1 "readlink $R/replay-node1 | grep -q '^$name,'" || fail "node1 did not move to $name: $(on node1 "ls -l $R | grep log; dmesg | tail -8")"
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=4096 count=16 conv=fsync status=none' || fail "writes on node1"
retry 30 eval "on node2 'test -e /tmp/mars-victim-2' || klog node2 | grep -q '$name here is not a regular file'" || bad "node2 neither wrote through nor refused $name"
on node2 'test -e /tmp/mars-victim-1 || test -e /tmp/mars-victim-2' && bad "node2's fetch wrote outside /mars: $(on node2 'ls -l /tmp/mars-victim-* 2>&1')"
on node2 "rm -f $R/$name /tmp/mars-victim-*"
retry 60 on node2 "test \"\$(marsadm view-fetch-rest r0)\" = 0 && test -f $R/$name && ! test -L $R/$name" ||
  bad "node2 did not fetch $name after the symlink was gone: $(on node2 "ls -l $R")"

step "a symlink where a directory is expected: todo-node9 -> /tmp on node1, node2 sends todo-node9/attach"
on node1 "ln -s /tmp $R/todo-node9"
on node2 "mkdir -p $R/todo-node9 && ln -s 1 $R/todo-node9/attach && touch -h -d @\$((\$(date +%s) + 2)) $R/todo-node9/attach"
t=$(stamp node2)
retry 30 heard node1 node2 $t || bad "node1 stopped pulling node2's tree"
oops node1
on node1 'ls -a /tmp | grep -E "attach"' && bad "node1 wrote into /tmp through todo-node9"
on node1 "rm $R/todo-node9"
on node2 "rm -r $R/todo-node9"

step "replication goes on; /etc unchanged; disks equal after down"
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=4096 count=64 seek=100 conv=fsync status=none' || fail "writes on node1"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' >/dev/null || bad "node2 not UpToDate: $(on node2 'marsadm view r0')"
retry 30 on node2 "test \"\$(readlink $R/replay-node2 | cut -d, -f1,2)\" = \"\$(readlink $R/replay-node1 | cut -d, -f1,2)\"" ||
  bad "node2 did not replay up to node1"
oops node1
oops node2
assert_eq "$etc1" "$(etc_sum node1)" "/etc on node1"
assert_eq "$etc2" "$(etc_sum node2)" "/etc on node2"
for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks $DISK node1 node2
if ((${#problems[@]})); then
  fail "${#problems[@]} problem(s): $(printf '%s; ' "${problems[@]}")"
fi
