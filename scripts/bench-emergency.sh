#!/usr/bin/env bash
# `make bench`, part 3: the application's write latency while /mars fills up and the
# primary ceases logging (docu/emergency.md). One testbed node; r0 on its data disk; the
# reserves are set so that the last level is reached after about 96 MiB of log. One fio
# job (64 KiB random direct writes, iodepth 1, RUNTIME seconds) runs through the whole
# filling, the levels and the switch to writing straight to the disk; the same job runs
# once more in normal mode (enough space) for comparison. Reports the longest and the
# 99.9th percentile completion latency of each and appends the table to
# docu/benchmarks.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tb=$top/testing/testbed
runtime=${RUNTIME:-20}
n=node1

"$tb" up --nodes 1 >/dev/null
on() { "$tb" exec $n -- sh -c "$*"; }

lat_job() { # lat_job NAME -> "iops max_us p999_us"
  on "fio --name=$1 --thread --filename=/dev/mars/r0 --direct=1 --ioengine=psync --rw=randwrite --bs=64k \
      --size=256M --runtime=$runtime --time_based --output-format=json" |
    python3 -c 'import json, sys
w = json.load(sys.stdin)["jobs"][0]["write"]
p = w["clat_ns"]["percentile"]
print(int(w["iops"]), int(w["lat_ns"]["max"] / 1000), int(p.get("99.900000", 0) / 1000))'
}

fresh() {
  on 'rmmod mars 2>/dev/null; rm -rf /mars/*; modprobe mars && marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vdb >/dev/null'
  for _ in $(seq 60); do on 'test -b /dev/mars/r0' && break; sleep 1; done
}

echo "bench: write latency in normal mode" >&2
fresh
read -r normal_iops normal_max normal_p999 <<<"$(lat_job normal)"

echo "bench: write latency while /mars fills (levels 1..4, logging ceases)" >&2
fresh
free=$(on "df -m /mars | awk 'NR == 2 { print \$4 }'")
on "cd /proc/sys/mars && echo 8 > required_free_space_1_mb && echo 8 > required_free_space_2_mb &&
  echo 8 > required_free_space_3_mb && echo $((free - 96)) > required_free_space_4_mb"
read -r fill_iops fill_max fill_p999 <<<"$(lat_job filling)"
ceased=$(on 'dmesg | grep -c "resource r0: ceased transaction logging"' || true)
on 'rmmod mars; rm -rf /mars/*'

table=$(cat <<EOT
| 64 KiB random direct writes, iodepth 1, ${runtime} s | IOPS | longest write | 99.9th percentile |
|---|---|---|---|
| normal mode (enough space in /mars) | $normal_iops | $((normal_max / 1000)) ms | $normal_p999 µs |
| /mars filling: levels 1..4, then logging ceases ($ceased time(s)) | $fill_iops | $((fill_max / 1000)) ms | $fill_p999 µs |
EOT
)
echo "$table"
{
  echo
  echo "## $(date -u +%Y-%m-%d): write latency while /mars fills ($(git -C "$top" rev-parse --short HEAD))"
  echo
  echo "Command: \`make bench\` (scripts/bench-emergency.sh, RUNTIME=$runtime s per job; the last"
  echo "reserve 96 MiB below the free space, so logging ceases after about 96 MiB of log)."
  echo
  echo "$table"
} >> "$top/docu/benchmarks.md"
