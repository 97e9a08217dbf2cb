#!/usr/bin/env bash
# `make bench`, part 1: fio inside one testbed node, raw data disk vs /dev/mars/r0 (logfiles on
# the separate /mars disk), run back to back. Prints a Markdown table and appends it,
# with the command and date, to docu/benchmarks.md.
#
#   1 MiB sequential writes, direct, iodepth 16        -> MB/s, ratio mars/raw
#   4 KiB random writes, direct, iodepth 16            -> IOPS, ratio mars/raw
#   4 KiB writes with fsync after each (iodepth 1)     -> mean latency
#
# Numbers come from software-emulated (TCG) VMs on a 2-core machine: compare ratios,
# not absolute values. RUNTIME (seconds per job, default 20) and SIZE (default 256M).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tb=$top/testing/testbed
runtime=${RUNTIME:-20}
size=${SIZE:-256M}
n=node1

"$tb" up --nodes 1 >/dev/null
on() { "$tb" exec $n -- sh -c "$*"; }
on 'rmmod mars 2>/dev/null; rm -rf /mars/*; true'

fio_job() { # fio_job DEVICE NAME ARGS... -> "bw_kib iops lat_mean_us" (write side)
  local dev=$1 name=$2
  shift 2
  on "fio --name=$name --thread --filename=$dev --direct=1 --ioengine=libaio --size=$size \
      --runtime=$runtime --time_based --group_reporting --output-format=json $*" |
    python3 -c 'import json, sys
w = json.load(sys.stdin)["jobs"][0]["write"]
print(int(w["bw"]), int(w["iops"]), int(w["lat_ns"]["mean"] / 1000))'
}

run_set() { # run_set DEVICE -> three lines
  local dev=$1
  fio_job "$dev" seq --rw=write --bs=1M --iodepth=16
  fio_job "$dev" rand --rw=randwrite --bs=4k --iodepth=16
  fio_job "$dev" fsync --rw=randwrite --bs=4k --iodepth=1 --fsync=1
}

# References for reading the ratios: what /mars itself does. Every byte MARS logs is
# copied into /mars' page cache, and a write asking for durability waits for an
# fdatasync of the logfile; the raw disk does neither.
echo "bench: /mars references" >&2
ref_fio() { # ref_fio FIELD ARGS... -> one field of fio's terse output for a file on /mars
  local field=$1
  shift
  on "fio --name=ref --thread --filename=/mars/bench-ref --ioengine=psync --invalidate=0 --rw=write \
      --output-format=terse $* 2>/dev/null; rm -f /mars/bench-ref" | grep '^3;' | cut -d';' -f"$field"
}
ref_copy=$(ref_fio 48 --size="$size" --bs=1M)
ref_sync=$(ref_fio 49 --size=64M --runtime=5 --time_based --bs=64k --fdatasync=1)

echo "bench: raw /dev/vdb" >&2
mapfile -t raw < <(run_set /dev/vdb)
echo "bench: /dev/mars/r0" >&2
on 'modprobe mars && marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vdb >/dev/null'
for _ in $(seq 60); do on 'test -b /dev/mars/r0' && break; sleep 1; done
mapfile -t mars < <(run_set /dev/mars/r0)
on 'rmmod mars; rm -rf /mars/*'

read -r raw_seq_bw _ _ <<<"${raw[0]}";   read -r mars_seq_bw _ _ <<<"${mars[0]}"
read -r _ raw_iops _ <<<"${raw[1]}";     read -r _ mars_iops _ <<<"${mars[1]}"
read -r _ _ raw_lat <<<"${raw[2]}";      read -r _ _ mars_lat <<<"${mars[2]}"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "n/a"), a / b }'; }

table=$(cat <<EOT
| job | raw /dev/vdb | /dev/mars/r0 | mars/raw | target |
|---|---|---|---|---|
| 1 MiB sequential write, iodepth 16 | $((raw_seq_bw / 1024)) MiB/s | $((mars_seq_bw / 1024)) MiB/s | $(ratio "$mars_seq_bw" "$raw_seq_bw") | ≥ 0.8 |
| 4 KiB random write, iodepth 16 | $raw_iops IOPS | $mars_iops IOPS | $(ratio "$mars_iops" "$raw_iops") | ≥ 1.0 |
| 4 KiB write + fsync each, iodepth 1 (mean completion latency) | $raw_lat µs | $mars_lat µs | $(ratio "$mars_lat" "$raw_lat") | |

References on the same VM: buffered 1 MiB writes into a file on /mars (one copy into
the page cache, what every logged byte costs at least): $((ref_copy / 1024)) MiB/s;
64 KiB writes with fdatasync each on /mars (the group commit's rate of durable log
points): $ref_sync per second.
EOT
)
echo "$table"
{
  echo
  echo "## $(date -u +%Y-%m-%d): primary data path, fio in one VM ($(git -C "$top" rev-parse --short HEAD))"
  echo
  echo "Command: \`make bench\` (scripts/bench.sh, RUNTIME=$runtime s per job, SIZE=$size)."
  echo
  echo "$table"
} >> "$top/docu/benchmarks.md"

# The replication part: two nodes (scripts/bench-replication.sh).
"$top/scripts/bench-replication.sh"

# The application's write latency while /mars fills (scripts/bench-emergency.sh).
"$top/scripts/bench-emergency.sh"
