#!/usr/bin/env bash
# Replication part of `make bench`: two testbed nodes on an unshaped link. Prints a
# Markdown table and appends it, with the command and date, to docu/benchmarks.md.
#
#   secondary disk: 1 MiB sequential direct writes on node2's raw disk (the reference)
#   fast full sync of a disk that differs in a few MiB -> MiB/s of disk compared
#   fetch of logged data (replay paused)               -> MiB/s, ratio to the disk rate
#   replay of fetched data                             -> MiB/s, ratio to the disk rate
#   lag at a steady write rate: from a write's completion on node1 until node2's
#     replay link covers it, seen from the host (resolution: one exec round trip)
#
# LOG_MIB (default 256): data logged for the fetch/replay measurement.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tb=$top/testing/testbed
log_mib=${LOG_MIB:-256}

"$tb" up --nodes 2 >/dev/null
on() { local n=$1; shift; "$tb" exec "$n" -- sh -c "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
rate() { awk -v mib="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? mib / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "n/a"), a / b }'; }
wait_zero() { # wait_zero NODE MACRO: until `marsadm view-MACRO r0` prints 0
  until [ "$(on "$1" "marsadm view-$2 r0")" = 0 ]; do sleep 0.2; done
}
for n in node1 node2; do
  on $n 'umount /mnt/r0 2>/dev/null; rmmod mars 2>/dev/null; rm -rf /mars/*; true'
done

echo "bench: node2's raw disk" >&2
disk_kib=$(on node2 "fio --name=seq --thread --filename=/dev/vdb --direct=1 --ioengine=libaio --size=256M \
  --runtime=15 --time_based --rw=write --bs=1M --iodepth=16 --output-format=json" |
  python3 -c 'import json, sys; print(int(json.load(sys.stdin)["jobs"][0]["write"]["bw"]))')
disk_mib=$(awk -v k="$disk_kib" 'BEGIN { printf "%.1f", k / 1024 }')

echo "bench: fast full sync" >&2
for n in node1 node2; do on $n 'dd if=/dev/zero of=/dev/vdb bs=1M count=512 conv=fsync status=none && modprobe mars'; done
on node1 'marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vdb >/dev/null && marsadm wait-resource r0 --until primary'
on node1 'head -c 4194304 /dev/urandom | dd of=/dev/mars/r0 bs=1M seek=100 conv=fsync status=none'
key=$(on node1 'cat /mars/cluster.key')
on node2 "echo $key | marsadm join-cluster node1 --secret-file - >/dev/null && marsadm wait-resource r0"
sync_before=$(on node2 'cat /proc/sys/mars/received_bytes_2_sync')
t0=$(now)
on node2 'marsadm join-resource r0 /dev/vdb >/dev/null'
wait_zero node2 sync-rest
sync_s=$(elapsed "$t0" "$(now)")
sync_kib=$(( ($(on node2 'cat /proc/sys/mars/received_bytes_2_sync') - sync_before) / 1024 ))
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300'

echo "bench: fetch and replay of $log_mib MiB" >&2
on node2 'marsadm pause-replay r0 >/dev/null && marsadm pause-fetch r0 >/dev/null'
on node1 "fio --name=log --thread --filename=/dev/mars/r0 --direct=1 --ioengine=libaio --size=${log_mib}M \
  --rw=write --bs=1M --iodepth=16 >/dev/null"
sleep 3
fetch_bytes=$(on node2 'marsadm view-fetch-rest r0')
t0=$(now)
on node2 'marsadm resume-fetch r0 >/dev/null'
wait_zero node2 fetch-rest
fetch_s=$(elapsed "$t0" "$(now)")
replay_bytes=$(on node2 'marsadm view-replay-rest r0')
t0=$(now)
on node2 'marsadm resume-replay r0 >/dev/null'
wait_zero node2 replay-rest
replay_s=$(elapsed "$t0" "$(now)")
fetch_mib=$(rate "$((fetch_bytes >> 20))" "$fetch_s")
replay_mib=$(rate "$((replay_bytes >> 20))" "$replay_s")

echo "bench: lag at a steady write rate" >&2
samples=$(mktemp)
trap 'rm -f "$samples"' EXIT
( while :; do
    v=$(on node2 'readlink /mars/resource-r0/replay-node2' 2>/dev/null) && echo "$(now) $v"
  done ) > "$samples" &
poller=$!
writes=$(mktemp)
for i in $(seq 0 39); do
  # 256 KiB with fsync, then the logfile's size: the position replay must reach.
  out=$(on node1 "head -c 262144 /dev/urandom | dd of=/dev/mars/r0 bs=256k seek=$((i + 800)) conv=fsync status=none &&
    f=\$(readlink /mars/resource-r0/replay-node1 | cut -d, -f1) && echo \$f \$(stat -c %s /mars/resource-r0/\$f)")
  echo "$(now) $out" >> "$writes"
  sleep 0.3
done
sleep 3
kill $poller 2>/dev/null; wait $poller 2>/dev/null || true
read -r lag_mean lag_max write_rate < <(python3 - "$writes" "$samples" <<'EOF'
import sys
writes = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 3]
samples = []
for l in open(sys.argv[2]):
    p = l.split()
    if len(p) == 2 and p[1].count(",") == 2:
        name, pos, _ = p[1].split(",")
        samples.append((float(p[0]), name, int(pos)))
lags = []
for t, name, size in writes:
    t, size = float(t), int(size)
    done = [s for s, n, pos in samples if s >= t and (n > name or (n == name and pos >= size))]
    if done:
        lags.append(min(done) - t)
span = float(writes[-1][0]) - float(writes[0][0]) if len(writes) > 1 else 1
print(f"{sum(lags) / max(len(lags), 1):.2f} {max(lags, default=float('nan')):.2f} {len(writes) * 0.25 / span:.2f}")
EOF
)
rm -f "$writes"
on node2 'marsadm view r0' >&2

table=$(cat <<EOT
| measurement | result | target |
|---|---|---|
| node2's disk, 1 MiB sequential direct writes (reference) | $disk_mib MiB/s | |
| fast full sync, 512 MiB disk differing in ~4 MiB | $(rate 512 "$sync_s") MiB/s compared ($sync_s s), $sync_kib KiB sent | |
| fetch of $((fetch_bytes >> 20)) MiB of logfile | $fetch_mib MiB/s ($(ratio "$fetch_mib" "$disk_mib") × disk) | ≥ 0.8 × disk |
| replay of $((replay_bytes >> 20)) MiB of logfile | $replay_mib MiB/s ($(ratio "$replay_mib" "$disk_mib") × disk) | ≥ 0.8 × disk |
| lag, 256 KiB fsync'ed writes at ~$write_rate MiB/s | mean $lag_mean s, max $lag_max s | < 1 s |
EOT
)
echo "$table"
{
  echo
  echo "## $(date -u +%Y-%m-%d): replication, two VMs on an unshaped link ($(git -C "$top" rev-parse --short HEAD))"
  echo
  echo "Command: \`make bench\` (scripts/bench-replication.sh, LOG_MIB=$log_mib)."
  echo
  echo "$table"
} >> "$top/docu/benchmarks.md"
