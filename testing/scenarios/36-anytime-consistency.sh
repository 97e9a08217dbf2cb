#!/usr/bin/env bash
# Anytime consistency (design reference §1.8): while node1 writes, snapshots of node2's
# disk taken at random moments (replay paused, the image read on the host, replay
# resumed) are each a prefix of node1's write history: numbered blocks written in order
# and each fsync'ed, so a snapshot holds blocks 0..k-1 and nothing after. Then, during an xfs
# workload on node1, three snapshots of node2's disk, copied onto node3's disk, mount
# and pass xfs_repair -n there.
source "$(dirname "$0")/../lib.sh"
STATE=$(tb_state)
DISK=vda

tb up --nodes 3 >/dev/null
replicated_r0
on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node2 not UpToDate"

paused() { retry 20 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-replaying)" = 0' || fail "replay did not stop"; }

# prefix IMAGE: prints k if IMAGE holds "block <i>" at block i for i < k and zeros
# after; fails otherwise.
prefix() {
  python3 - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read(12000 * 4096)
k = 0
while data[k * 4096:k * 4096 + 14] == b"block %08d" % k:
    k += 1
rest = data[k * 4096:]
if rest.count(0) != len(rest):
    bad = next(i for i in range(k, len(data) // 4096) if data[i * 4096:(i + 1) * 4096].count(0) != 4096)
    print(f"not a prefix: blocks 0..{k - 1} present, then block {bad} is not zero: {data[bad * 4096:bad * 4096 + 20]!r}")
    sys.exit(1)
print(k)
PY
}

step "10 snapshots of node2 while node1 writes numbered blocks, each fsync'ed"
on node1 'rm -f /tmp/stop-writer'
on node1 'i=0; while [ $i -lt 12000 ] && [ ! -e /tmp/stop-writer ]; do
    printf "block %08d\n" $i | dd of=/dev/mars/r0 bs=4096 seek=$i conv=sync,fsync oflag=direct status=none || exit 1
    i=$((i + 1)); done' &
writer=$!
prev=0
for s in $(seq 1 10); do
  sleep "$((RANDOM % 3 + 1)).$((RANDOM % 10))"
  on node2 'marsadm pause-replay r0 >/dev/null'
  paused
  k=$(prefix "$STATE/node2/scratch.img") || fail "snapshot $s: $k"
  on node2 'marsadm resume-replay r0 >/dev/null'
  echo "snapshot $s: a prefix of $k blocks"
  [ "$k" -ge "$prev" ] || fail "snapshot $s went back ($k < $prev)"
  prev=$k
done
on node1 'touch /tmp/stop-writer'
wait $writer || fail "writer on node1 failed"
on node1 'rm -f /tmp/stop-writer'
[ "$prev" -gt 0 ] || fail "no block ever replicated"

step "3 snapshots during an xfs workload mount and pass xfs_repair -n (on node3)"
DISK=vdb
replicated_r0 xfs
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate"
on node3 'umount /mnt/s 2>/dev/null; rmmod mars 2>/dev/null; true'
on node1 'rm -f /tmp/stop-writer'
on node1 'i=0; while [ ! -e /tmp/stop-writer ]; do
    mkdir -p /mnt/r0/d$((i % 10)) && head -c $((4096 + (i % 7) * 5000)) /dev/urandom > /mnt/r0/d$((i % 10))/f$i || exit 1
    [ $((i % 5)) = 0 ] && sync /mnt/r0/d$((i % 10))/f$i; [ $((i % 13)) = 0 ] && rm -f /mnt/r0/d$((i % 10))/f$((i - 26))
    i=$((i + 1)); done' &
writer=$!
for s in 1 2 3; do
  sleep "$((RANDOM % 4 + 2))"
  on node2 'marsadm pause-replay r0 >/dev/null'
  paused
  cp --sparse=always "$STATE/node2/data.img" "$STATE/node3/data.img"
  on node2 'marsadm resume-replay r0 >/dev/null'
  on node3 'blockdev --flushbufs /dev/vdb && mkdir -p /mnt/s && mount /dev/vdb /mnt/s' || fail "snapshot $s does not mount"
  n=$(on node3 'find /mnt/s -type f | wc -l')
  on node3 'umount /mnt/s'
  on node3 'xfs_repair -n /dev/vdb >/dev/null 2>&1' || fail "snapshot $s: xfs_repair -n found problems"
  echo "snapshot $s: mounts, $n files, xfs_repair -n clean"
done
on node1 'touch /tmp/stop-writer'
wait $writer || fail "writer on node1 failed"
on node1 'rm -f /tmp/stop-writer; umount /mnt/r0'
