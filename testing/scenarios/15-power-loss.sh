#!/usr/bin/env bash
# Power-loss crash states (docu/reliability.md): each node's data disk and /mars sit on
# dm-log-writes targets that log every write with its FLUSH/FUA flags; while node1
# writes numbered blocks (O_DSYNC, and fsync), consistent cuts of both devices of each
# node are marked. Afterwards mars-crashstate rebuilds, for several marks and modes
# (keep-all, drop-all, random, torn), the disks a power loss at the mark could leave:
# on node2 (secondary), first with node1 unreachable, its replay must leave a
# consistent copy (each writer's blocks a prefix of what was written, the overwriting
# writer's blocks what its writes up to some point left) or show that it is none, then it must follow node1 again and end with node1's data, or show that it
# needs a resync; on node1 (primary) every block acknowledged before the mark
# must read back, and marsadm cat must find the logfiles clean. Last, node1 loses
# power the moment it has handed over to node2: it must come back as node2's
# secondary. And node1 loses power right after it ceased logging (emergency mode) and
# wrote straight to the disk: those writes must be there, and node2 must not follow
# node1 past them (it shows that it needs a resync). Unlike `testbed crash` (qemu killed: every write the guest issued
# survives), a missing flush or FUA fails.
# WRITER_MODE=direct (no O_DSYNC: nothing asks for durability) shows that it can fail.
# testbed-kernels: 7.3  (dm-log-writes is a module of the stock 7.3 kernel only)
# testbed-timeout: 900  (27 crash states: 264-378 s in make check before the secondary's
# states were also checked alone, 503 s with them beside four other testbeds)
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../powerloss-lib.sh"

FSYNC_AT=4096       # the fsync'ed blocks start here (4 KiB units); O_DSYNC ones at 0
RING_AT=8128        # a writer that overwrites RING blocks here, over and over (O_DSYNC)
RING=64
WRITER_MODE=${WRITER_MODE:-dsync}
SEED=${SEED:-$((RANDOM % 1000))}
MARKS=5
echo "seed $SEED (SEED=$SEED reproduces the random and torn states), writer mode $WRITER_MODE"

# The states each node checks: MARK:MODE, the seed SEED + index.
STATES=(m1:drop-all m1:keep-all m2:random m2:torn m3:drop-all m3:random m4:torn m4:keep-all m5:random m5:torn)
# xfs (node1 only): marks x1.., each state with an fsync'ed file writer.
XFS_MARKS=3
XFS_STATES=(x1:drop-all x2:random x2:torn x3:keep-all x3:drop-all)
checked=0
followed=0

# pair: both nodes on dm-log-writes (/mars mounted with PL_MARS_OPTIONS), r0 on node1,
# node2 joined and UpToDate.
pair() {
  reset
  on_nodes 'logged' node1 node2
  on node1 'marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/mapper/lw-data >/dev/null'
  on node1 'marsadm wait-resource r0 --until primary --timeout 30' || fail "node1 did not become primary of r0"
  join_cluster node2
  on node2 'marsadm join-resource r0 /dev/mapper/lw-data >/dev/null' || fail "join-resource on node2"
  on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node2 not UpToDate"
}

step "setup: both nodes on dm-log-writes, r0 on node1, node2 joins"
pair

step "workload on node1 ($WRITER_MODE, fsync and ring writers), $MARKS cuts on each node"
tb exec node1 -- sh -c "rm -f /tmp/stop
  mars-writer /dev/mars/r0 --count $FSYNC_AT --tag dsync --mode $WRITER_MODE > /tmp/acked-dsync 2>/tmp/writer.err &
  mars-writer /dev/mars/r0 --count 1000000 --ring $RING --start $RING_AT --tag ring --mode $WRITER_MODE > /dev/null 2>&1 &
  i=0; while [ \$i -lt $((RING_AT - FSYNC_AT)) ] && [ ! -e /tmp/stop ]; do
    printf 'fsync %08d\n' \$i | dd of=/dev/mars/r0 bs=4096 seek=\$(($FSYNC_AT + i)) conv=sync,fsync status=none || exit 1
    echo \$i; i=\$((i + 1)); done > /tmp/acked-fsync; wait" &
workload=$!
declare -A acked
sleep 3
for k in $(seq 1 $MARKS); do
  acked[m$k]=$(cut_marks node1 m$k dsync) || fail "cut m$k on node1"
  cut_marks node2 m$k dsync >/dev/null || fail "cut m$k on node2"
  echo "m$k: node1 acknowledged dsync/fsync blocks up to ${acked[m$k]}"
  sleep 1.5
done
on node1 'touch /tmp/stop; kill $(pidof mars-writer) 2>/dev/null; true'
wait $workload || true
[ "${acked[m1]}" != "-1 -1" ] || fail "no block acknowledged before the first cut"
retry 60 caught_up node1 node2 || fail "node2 does not catch up after the workload"
unlogged node2
on node2 'mars-crashstate list /dev/vdd; mars-crashstate list /dev/vdb' | sed 's/^/node2 log: /'

step "secondary: node2's crash states, node1 primary with all data"
for i in "${!STATES[@]}"; do
  s=${STATES[$i]}
  tb net cut node1 node2
  state node2 "${s%:*}" "${s#*:}" $((SEED + i))
  alone_state node2 "state $s seed $((SEED + i))" \
    "mars-writer /dev/mapper/lw-data --mode prefix --tag dsync --count $FSYNC_AT" \
    "mars-writer /dev/mapper/lw-data --mode prefix --tag fsync --start $FSYNC_AT --count $((RING_AT - FSYNC_AT))" \
    "mars-writer /dev/mapper/lw-data --mode prefix --tag ring --start $RING_AT --ring $RING"
  tb net heal node1 node2
  if secondary_state node1 node2 "state $s seed $((SEED + i))"; then
    followed=$((followed + 1))
  fi
  down_state node2
  checked=$((checked + 1))
done

step "primary: node1's crash states"
unlogged node1
on node1 'mars-crashstate list /dev/vdd; mars-crashstate list /dev/vdb' | sed 's/^/node1 log: /'
for i in "${!STATES[@]}"; do
  s=${STATES[$i]}
  m=${s%:*}
  read -r a b <<<"${acked[$m]}"
  state node1 "$m" "${s#*:}" $((SEED + i))
  primary_state node1 "state $s seed $((SEED + i))" "mars-writer /dev/mars/r0 --mode check --tag dsync --count $((a + 1))" \
    "mars-writer /dev/mars/r0 --mode check --tag fsync --start $FSYNC_AT --count $((b + 1))"
  down_state node1
  checked=$((checked + 1))
done

step "xfs on r0 of node1 alone: files written and fsync'ed, $XFS_MARKS cuts"
reset
logged node1
on node1 'marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/mapper/lw-data >/dev/null'
on node1 'marsadm wait-resource r0 --until primary --timeout 30' || fail "node1 did not become primary of r0"
# mkfs.xfs makes filesystems under 300 MB only for fstests (TEST_DIR, TEST_DEV and
# QA_CHECK_FS set).
on node1 'TEST_DIR=/mnt TEST_DEV=/dev/mars/r0 QA_CHECK_FS=1 mkfs.xfs -q -f /dev/mars/r0 && mkdir -p /mnt/r0 && mount /dev/mars/r0 /mnt/r0' || fail "xfs on node1"
tb exec node1 -- sh -c 'rm -f /tmp/stop; i=0; while [ $i -lt 1000 ] && [ ! -e /tmp/stop ]; do
    yes "file $i" | head -c 16384 > /mnt/r0/f$i && sync /mnt/r0/f$i || exit 1
    echo $i; i=$((i + 1)); done > /tmp/acked-xfs' &
workload=$!
sleep 3
for k in $(seq 1 $XFS_MARKS); do
  acked[x$k]=$(cut_marks node1 x$k xfs) || fail "cut x$k on node1"
  echo "x$k: node1 acknowledged files up to ${acked[x$k]% *}"
  sleep 1.5
done
on node1 'touch /tmp/stop'
wait $workload || true
on node1 'umount /mnt/r0'
unlogged node1
for i in "${!XFS_STATES[@]}"; do
  s=${XFS_STATES[$i]}
  m=${s%:*}
  a=${acked[$m]% *}
  state node1 "$m" "${s#*:}" $((SEED + i))
  retry 60 on node1 'test -b /dev/mars/r0' || fail "node1 xfs state $s: /dev/mars/r0 did not come back"
  on node1 "mount /dev/mars/r0 /mnt/r0 || exit 1; i=0; while [ \$i -le $a ]; do
      [ \"\$(head -n 1 /mnt/r0/f\$i)\" = \"file \$i\" ] && [ \$(stat -c %s /mnt/r0/f\$i) = 16384 ] ||
        { echo \"file f\$i is not as written\"; exit 1; }
      i=\$((i + 1)); done" ||
    fail "node1 xfs state $s seed $((SEED + i)): a file acknowledged before $m (up to f$a) is not there"
  on node1 'umount /mnt/r0 && { xfs_repair -n /dev/mars/r0 >/tmp/repair.out 2>&1 || { cat /tmp/repair.out; false; }; }' || fail "node1 xfs state $s: xfs_repair -n finds problems"
  down_state node1
  checked=$((checked + 1))
done

step "handover: node1, the old primary, loses power the moment it has left the primary role"
# ext4 commits its journal every 60 s here, not every 5: only a flush mars asks for
# makes /mars durable before the cut. node2 took over on what node1 showed; node1 must
# come back as node2's secondary, never as a primary next to it (docu/failover.md, "A
# crash during a handover").
PL_MARS_OPTIONS=commit=60 pair
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=16 oflag=direct conv=fsync status=none' || fail "writing on node1"
tb exec node2 -- marsadm primary r0 &
left_role() { [ "$(on node1 'readlink /mars/resource-r0/actual-node1/is-primary')" = 0 ]; }
retry 60 left_role || fail "node1 did not leave the primary role"
cut_marks node1 h1 none >/dev/null || fail "cut h1 on node1"
wait $! || fail "handover to node2"
unlogged node1
state node1 h1 drop-all 0
for i in 1 2 3 4 5 6 7 8 9 10; do
  on node1 'test ! -b /dev/mars/r0' || fail "node1 is primary again after losing power right after the handover: $(on node1 'marsadm view r0')"
  sleep 1
done
assert_eq node2 "$(on node1 'readlink /mars/resource-r0/primary')" "the designated primary on node1 after its power loss"
on node2 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=16 seek=32 oflag=direct conv=fsync status=none' || fail "writing on node2"
retry 60 caught_up node2 node1 || fail "node1 does not follow node2 after its power loss: $(on node1 'marsadm view r0')"
same_disks --bytes $((DATA_SECTORS * 512)) vda node2 node1
down_state node1
checked=$((checked + 1))

step "emergency: node1 loses power right after it ceased logging and wrote straight to the disk"
# ext4 commits every 60 s here too. The hole (the logfile after it) survives only if
# ceasing made it durable before the first write that bypasses the log: else node1
# comes back logging into the next logfile, and node2 follows it without those writes.
PL_MARS_OPTIONS=commit=60 pair
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=16 oflag=direct conv=fsync status=none' || fail "writing on node1"
retry 60 caught_up node1 node2 || fail "node2 does not catch up before the emergency"
on node1 'marsadm set-emergency-limit r0 100 >/dev/null' || fail "set-emergency-limit on node1"
ceased() { on node1 'dmesg | grep -q "ceased transaction logging"'; }
retry 30 ceased || fail "node1 did not cease logging: $(on node1 'marsadm view r0')"
# Over the same blocks, straight to the disk (no marsadm from here to the cut: its lock
# makes /mars durable).
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=16 oflag=direct conv=fsync status=none' || fail "writing in emergency mode on node1"
emergency_sum=$(on node1 'dd if=/dev/mars/r0 bs=64k count=16 iflag=direct status=none | sha256sum')
cut_marks node1 e1 none >/dev/null || fail "cut e1 on node1"
unlogged node1
PL_NO_MODULE=1 state node1 e1 drop-all 0
# The operator lifts the limit before the module starts (else logging ceases at once).
on node1 'ln -sfn 0 /mars/resource-r0/todo-node1/emergency-limit && modprobe mars' || fail "starting node1"
retry 60 on node1 'test -b /dev/mars/r0' || fail "/dev/mars/r0 did not come back on node1: $(on node1 'marsadm view r0')"
on node1 'ls /mars/resource-r0 | grep "^log-"; dmesg | grep "mars:.*recover\|mars:.*logging to" | tail -2'
assert_eq "$emergency_sum" "$(on node1 'dd if=/dev/mars/r0 bs=64k count=16 iflag=direct status=none | sha256sum')" "node1's blocks written in emergency mode, after its power loss"
on node1 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=16 seek=32 oflag=direct conv=fsync status=none' || fail "writing on node1 after its power loss"
secondary_state node1 node2 "after node1's power loss in emergency mode" || true
down_state node1
checked=$((checked + 1))

step "restore the nodes"
restore
echo "crash states checked: $checked (node2 followed node1 again after $followed of ${#STATES[@]}, showed that it needs a resync after $((${#STATES[@]} - followed)))"
