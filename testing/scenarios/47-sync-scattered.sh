#!/usr/bin/env bash
# Fast full sync of scattered differences (docu/replication.md, "Fast full sync"): r0 on
# vdd cut to 40 MiB + 20 KiB (the last 64 KiB sync block is short), zero on both nodes,
# then made to differ in single blocks, adjacent runs (one longer than a 1 MiB SyncRead,
# one across the 16 MiB span boundary, one longer than a 2 MiB write batch), 4 KiB
# inside a block, a block random on both, and the last, short block. node2 joins; after
# the sync and `down` on both the disks are equal, and the sync received the differing
# blocks and little more (a merge that copies too much, or too little, fails here).
source "$(dirname "$0")/../lib.sh"

BLOCK=65536
SIZE=$(((40 << 20) + (20 << 10)))

# The next scenarios get their 64 MiB vdd back, also when this one fails.
trap 'for n in node1 node2; do tb disk grow "$n" vdd 64 >/dev/null || echo "disk grow vdd on $n failed" >&2; done' EXIT

step "vdd cut to $SIZE bytes, zero on both"
for n in node1 node2; do tb crash "$n"; done
for n in node1 node2; do
  img=$(tb_state)/$n/scratch2.img
  truncate -s 0 "$img" && truncate -s "$SIZE" "$img"
done
tb up >/dev/null
fresh_modules node1 node2

# random NODE BS SEEK COUNT: random data on NODE's vdd, COUNT blocks of BS bytes at SEEK.
random() {
  on "$1" "dd if=/dev/urandom of=/dev/vdd bs=$2 seek=$3 count=$4 conv=fsync status=none" || fail "dd on $1"
}
random node2 $BLOCK 3 1        # a single block
random node2 $BLOCK 10 3       # an adjacent run
random node2 $BLOCK 100 20     # longer than one SyncRead (16 blocks)
random node2 $BLOCK 250 13     # across the span boundary at block 256
random node1 $BLOCK 300 40     # longer than a write batch (32 blocks)
random node1 4096 8002 1       # 4 KiB inside block 500
random node1 $BLOCK 400 1      # random on both
random node2 $BLOCK 400 1
random node1 4096 10208 37     # blocks 638, 639 and the short last block 640 (20 KiB)
# 81 full blocks and the short one.
DIFFER=$((81 * BLOCK + (20 << 10)))

step "node2 joins and syncs"
create_r0 /dev/vdd
assert_eq "$SIZE" "$(on node1 'marsadm view-resource-size r0')" "resource size"
join_cluster node2
before=$(on node2 'cat /proc/sys/mars/received_bytes_2_sync')
on node2 'marsadm join-resource r0 /dev/vdd' || fail "join-resource"
retry 300 on node2 'test "$(marsadm view-sync-rest r0)" = 0' || fail "sync did not finish: $(on node2 'marsadm view r0')"
uptodate() { [ "$(view_field node2 diskstate)" = UpToDate ]; }
retry 120 uptodate ||
  fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
received=$(( $(on node2 'cat /proc/sys/mars/received_bytes_2_sync') - before ))

step "after down on both, the disks are equal"
for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks vdd node1 node2

step "the sync received the differing blocks and little more"
echo "the sync received $received bytes for $DIFFER differing"
# Beyond the blocks: digests (16 bytes a block), frame headers and tags.
[ "$received" -ge "$DIFFER" ] && [ "$received" -lt $((DIFFER + (64 << 10))) ] ||
  fail "the sync received $received bytes, not the $DIFFER differing and a little more"
