# Helpers of `make bench` (sourced by scripts/bench.sh): running commands in the nodes,
# the fio jobs every peer runs, DRBD 8.4 set up and torn down, small arithmetic.
# Expects $tb (testing/testbed), $runtime and $size.

on() { local n=$1; shift; "$tb" exec "$n" -- sh -c "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
rate() { awk -v mib="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? mib / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "n/a"), a / b }'; }
# verdict A OP B: "yes" when A OP B holds (OP: ge or le), else "no"
verdict() {
  awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
    if (a == "n/a" || b == "n/a") { print "n/a"; exit }
    ok = (op == "ge") ? (a + 0 >= b + 0) : (a + 0 <= b + 0); print (ok ? "yes" : "no") }'
}
# wait_for NODE SECONDS WHAT CMD: until CMD succeeds in NODE; fails loudly after SECONDS
wait_for() {
  local n=$1 secs=$2 what=$3 cmd=$4 t0=$SECONDS
  until on "$n" "$cmd" >/dev/null 2>&1; do
    if (( SECONDS - t0 > secs )); then echo "bench: $n: no $what after $secs s" >&2; return 1; fi
    sleep 0.5
  done
}

# mars_primary: the module loaded on both nodes; node1 creates the cluster and r0 on
# its /dev/vdb and is its primary.
mars_primary() {
  local n
  for n in node1 node2; do on $n 'modprobe mars'; done
  on node1 'marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vdb >/dev/null && marsadm wait-resource r0 --until primary'
}
# mars_join_cluster: node2 joins node1's cluster with its secret and sees r0.
mars_join_cluster() {
  local key
  key=$(on node1 'cat /mars/cluster.key')
  on node2 "echo $key | marsadm join-cluster node1 --secret-file - >/dev/null && marsadm wait-resource r0"
}

# The fio jobs. Every job: direct I/O on DEV, $runtime seconds, one JSON report parsed
# on the host. Each prints one number.
fio_json() { # fio_json NODE ARGS...
  local n=$1; shift
  on "$n" "fio --thread --output-format=json $*"
}
job_seq() { # MB/s (10^6 bytes) of 1 MiB sequential writes, iodepth 16
  fio_json "$1" --name=seq --filename="$2" --direct=1 --ioengine=libaio --size="$size" \
    --runtime="$runtime" --time_based --rw=write --bs=1M --iodepth=16 |
    python3 -c 'import json, sys; print("%.1f" % (json.load(sys.stdin)["jobs"][0]["write"]["bw_bytes"] / 1e6))'
}
job_rand() { # IOPS of 4 KiB random writes, iodepth 16
  fio_json "$1" --name=rand --filename="$2" --direct=1 --ioengine=libaio --size="$size" \
    --runtime="$runtime" --time_based --rw=randwrite --bs=4k --iodepth=16 |
    python3 -c 'import json, sys; print(int(json.load(sys.stdin)["jobs"][0]["write"]["iops"]))'
}
# 4 KiB writes, each followed by fdatasync, iodepth 1 (psync). Prints "MEAN_US P99_US":
# MEAN_US = 10^6 / write IOPS, the mean time of one write + its fdatasync (the job does
# nothing else, one at a time); P99_US = write clat_ns p99 + sync lat_ns p99 (an upper
# bound of the pair's p99). The guests' only clocksource is jiffies (4 ms steps, no
# TSC/HPET under TCG), so single latencies fio times are multiples of 4 ms: the mean
# comes from counting completions over the whole run instead.
job_fdatasync() {
  fio_json "$1" --name=fdatasync --filename="$2" --direct=1 --ioengine=psync --size="$size" \
    --runtime="$runtime" --time_based --rw=randwrite --bs=4k --iodepth=1 --fdatasync=1 |
    python3 -c 'import json, sys
j = json.load(sys.stdin)["jobs"][0]
w, s = j["write"], j["sync"]
p99 = w["clat_ns"]["percentile"]["99.000000"] + s["lat_ns"]["percentile"]["99.000000"]
print(int(1e6 / w["iops"]) if w["iops"] > 0 else 0, int(p99 / 1000))'
}
# xfs metadata load: mkfs.xfs (no discard) on DEV, mount, then 4 KiB files created one
# after the other in one directory, each written (buffered) and fsync'ed before the next:
# xfs_io processes of 50 files each (`open -f`, `pwrite 0 4k`, `fsync`, `close`; one
# process per file would measure fork and exec under TCG), until $runtime seconds have
# passed. Prints files/s (files / elapsed time by /proc/uptime).
job_xfs() {
  local n=$1 dev=$2
  on "$n" "mkfs.xfs -f -K -q $dev && mkdir -p /mnt/bench && mount $dev /mnt/bench"
  "$tb" exec "$n" -- bash -s "$runtime" <<'EOF'
set -euo pipefail
cd /mnt/bench
read -r t0 _ < /proc/uptime; t0=${t0/./}; end=$((10#$t0 + $1 * 100)); files=0; t=$t0
while (( 10#$t < end )); do
  args=()
  for i in $(seq $files $((files + 49))); do args+=(-c "open -f f$i" -c "pwrite -q 0 4k" -c fsync -c close); done
  xfs_io "${args[@]}"
  files=$((files + 50)); read -r t _ < /proc/uptime; t=${t/./}
done
echo "$files $((10#$t - 10#$t0))" | awk '{ printf "%.0f\n", $1 * 100 / $2 }'
EOF
  on "$n" 'umount /mnt/bench'
}
# run_jobs NODE DEV NAME [SETTLE]: jobs 1..4 into the arrays seq[NAME], rand[NAME], ...;
# SETTLE (a command) runs before each job, so every job starts from the same state.
declare -A seq rand lat p99 xfs
run_jobs() {
  local n=$1 dev=$2 name=$3 settle=${4:-true}
  $settle; echo "bench: $name: 1 MiB sequential writes" >&2; seq[$name]=$(job_seq "$n" "$dev")
  $settle; echo "bench: $name: 4 KiB random writes" >&2;    rand[$name]=$(job_rand "$n" "$dev")
  $settle; echo "bench: $name: 4 KiB writes + fdatasync" >&2; read -r "lat[$name]" "p99[$name]" <<<"$(job_fdatasync "$n" "$dev")"
  $settle; echo "bench: $name: xfs, small files + fsync" >&2; xfs[$name]=$(job_xfs "$n" "$dev")
  echo "bench: $name: ${seq[$name]} MB/s, ${rand[$name]} IOPS, ${lat[$name]} µs (p99 ${p99[$name]} µs), ${xfs[$name]} files/s" >&2
}

# DRBD: drbd_up, drbd_protocol, drbd_down (shared with the migration scenario).
# shellcheck source=testing/drbd-lib.sh
. "$top/testing/drbd-lib.sh"

# wait_zero NODE WHAT: until `marsadm view-WHAT r0` on NODE prints 0 (fetch-rest, ...).
wait_zero() { until [ "$(on "$1" "marsadm view-$2 r0")" = 0 ]; do sleep 0.2; done; }

# fetch_log MIB: with node2's replay and fetch paused, node1 logs MIB MiB (1 MiB direct
# writes, iodepth 16) to r0; then node2's fetch resumes. Prints "BYTES SECONDS": what
# node2 had to fetch and how long it took (its replay stays paused).
fetch_log() {
  local bytes t0
  on node2 'marsadm pause-replay r0 >/dev/null && marsadm pause-fetch r0 >/dev/null'
  on node1 "fio --name=log --thread --filename=/dev/mars/r0 --direct=1 --ioengine=libaio --size=${1}M \
    --rw=write --bs=1M --iodepth=16 >/dev/null"
  sleep 3
  bytes=$(on node2 'marsadm view-fetch-rest r0')
  t0=$(now)
  on node2 'marsadm resume-fetch r0 >/dev/null'
  wait_zero node2 fetch-rest
  echo "$bytes $(elapsed "$t0" "$(now)")"
}
