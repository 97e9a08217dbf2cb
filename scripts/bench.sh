#!/usr/bin/env bash
# `make bench`: MARS side by side with DRBD on the same two testbed VMs (node1 primary,
# node2 secondary, replication network 10.77.0.K) and the same disks, in one run.
# Prints Markdown tables and appends them, with date, commit and command, to
# docu/benchmarks.md (which explains what is measured and how). Then the write latency
# while /mars fills (scripts/bench-emergency.sh). Prints the total time at the end.
#
# Peers on node1's data disk: raw /dev/vdb, DRBD 8.4 protocol A and protocol C to
# node2, /dev/mars/r0 replicated to node2. Jobs (fio, scripts/bench-lib.sh), the same
# for each: 1 MiB sequential writes, 4 KiB random writes, 4 KiB writes + fdatasync, xfs
# small files + fsync. Then 1 MiB sequential writes for SHAPED_RUNTIME s over a shaped
# link (10 Mbit/s, 100 ms each way) on DRBD A and on mars. Replication: mars' fetch
# against a plain TCP copy, replay against dd, fast full sync, lag.
#
# RUNTIME (s per job, default 12), SHAPED_RUNTIME (default 60), LOG_MIB (data logged for
# fetch/replay, default 128), SIZE (fio's region of the disk, default 256M).
set -euo pipefail
shopt -s inherit_errexit
top=$(cd "$(dirname "$0")/.." && pwd)
tb=$top/testing/testbed
runtime=${RUNTIME:-12}
shaped_runtime=${SHAPED_RUNTIME:-60}
log_mib=${LOG_MIB:-128}
size=${SIZE:-256M}
start=$SECONDS
# shellcheck source=scripts/bench-lib.sh
. "$top/scripts/bench-lib.sh"

# /mars large enough for the log of the shaped minute (node2 falls behind; sparse image).
"$tb" up --nodes 2 --mars-mib 8192 >/dev/null
cleanup() {
  local n
  for n in node1 node2; do "$tb" net unshape $n || true; done
  for n in node1 node2; do
    on $n 'umount /mnt/bench 2>/dev/null; rmmod mars 2>/dev/null; rm -rf /mars/*; true' || true
  done
  drbd_down || true
}
cleanup
samples=$(mktemp); writes=$(mktemp)
trap 'rc=$?; rm -f "$samples" "$writes"; if [ $rc != 0 ]; then echo "bench: failed ($rc), cleaning up" >&2; cleanup; fi' EXIT
zero_vdb() { for n in node1 node2; do "$tb" disk-zero $n vdb; done; }
shape() { for n in node1 node2; do "$tb" net shape $n --rate 10000 --delay 100; done; }
unshape() { for n in node1 node2; do "$tb" net unshape $n; done; }

# --- the raw disk --------------------------------------------------------------------
zero_vdb
run_jobs node1 /dev/vdb raw

# --- references for fetch and replay, while the disks are free ------------------------
# The same number of bytes as mars fetches and replays below: a file on node1's /mars
# (in its page cache, like a fresh logfile) sent over TCP into a file on node2's /mars
# (fsync'ed), then that file written to node2's disk with dd oflag=direct.
echo "bench: plain TCP copy and dd of $log_mib MiB" >&2
on node1 "dd if=/dev/urandom of=/mars/bench-src bs=1M count=16 status=none &&
  for i in \$(seq 2 $((log_mib / 16))); do cat /mars/bench-src; done > /mars/bench-rest &&
  cat /mars/bench-rest >> /mars/bench-src && rm /mars/bench-rest && sync"
on node2 'bench-tcp-copy recv 7790 /mars/bench-copy >/dev/null' &
recv=$!
t0=$(now)
on node1 'bench-tcp-copy send 10.77.0.2:7790 /mars/bench-src >/dev/null'
wait $recv
tcp_s=$(elapsed "$t0" "$(now)")
t0=$(now)
on node2 'dd if=/mars/bench-copy of=/dev/vdb bs=1M oflag=direct status=none'
dd_s=$(elapsed "$t0" "$(now)")
on node1 'rm -f /mars/bench-src'; on node2 'rm -f /mars/bench-copy'
tcp_mib=$(rate "$log_mib" "$tcp_s"); dd_mib=$(rate "$log_mib" "$dd_s")
echo "bench: TCP copy $tcp_mib MiB/s, dd $dd_mib MiB/s" >&2

# --- DRBD protocol A, shaped, protocol C ----------------------------------------------
zero_vdb
drbd_up A
run_jobs node1 /dev/drbd0 drbdA
echo "bench: DRBD A: 1 MiB sequential writes, shaped link, $shaped_runtime s" >&2
shape
shaped_drbd=$(runtime=$shaped_runtime job_seq node1 /dev/drbd0)
drbd_after_shape=$(on node1 'sed -n 3p /proc/drbd' | awk '{ print $2, $4 }')
unshape
echo "bench: DRBD A after the shaped run: $drbd_after_shape" >&2
# The full send queue behind the shaped link may make DRBD drop and resync the connection.
wait_for node1 300 "UpToDate/UpToDate again" 'grep -q "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate" /proc/drbd'
echo "bench: DRBD A shaped: $shaped_drbd MB/s" >&2
drbd_protocol C
run_jobs node1 /dev/drbd0 drbdC
drbd_down
zero_vdb # wipes DRBD's metadata too

# --- MARS: fast full sync, fetch and replay, lag, the jobs, shaped --------------------
echo "bench: mars: fast full sync" >&2
mars_primary
on node1 'head -c 4194304 /dev/urandom | dd of=/dev/mars/r0 bs=1M seek=100 conv=fsync status=none'
mars_join_cluster
sync_before=$(on node2 'cat /proc/sys/mars/received_bytes_2_sync')
t0=$(now)
on node2 'marsadm join-resource r0 /dev/vdb >/dev/null'
wait_zero node2 sync-rest
sync_s=$(elapsed "$t0" "$(now)")
sync_kib=$(( ($(on node2 'cat /proc/sys/mars/received_bytes_2_sync') - sync_before) / 1024 ))
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300'

echo "bench: mars: fetch and replay of $log_mib MiB" >&2
fetched=$(fetch_log "$log_mib")
read -r fetch_bytes fetch_s <<<"$fetched"
replay_bytes=$(on node2 'marsadm view-replay-rest r0')
t0=$(now)
on node2 'marsadm resume-replay r0 >/dev/null'
wait_zero node2 replay-rest
replay_s=$(elapsed "$t0" "$(now)")
fetch_mib=$(rate "$((fetch_bytes >> 20))" "$fetch_s")
replay_mib=$(rate "$((replay_bytes >> 20))" "$replay_s")
echo "bench: mars: fetch $fetch_mib MiB/s, replay $replay_mib MiB/s" >&2

echo "bench: mars: lag at a steady write rate" >&2
( while :; do
    v=$(on node2 'readlink /mars/resource-r0/replay-node2' 2>/dev/null) && echo "$(now) $v"
  done ) > "$samples" &
poller=$!
# Where replay must get to after each write: the end of the records (the logfile is
# longer, its logger writes zeros ahead). One record per 256 KiB write: a 512-byte head
# and the data (log format version 2).
lag_log=$(on node1 'readlink /mars/resource-r0/replay-node1 | cut -d, -f1')
lag_end=$(on node1 "marsadm cat --summary --json /mars/resource-r0/$lag_log" | sed -n 's/.*"valid_bytes": *\([0-9]*\).*/\1/p')
for i in $(seq 0 29); do
  on node1 "head -c 262144 /dev/urandom | dd of=/dev/mars/r0 bs=256k seek=$((i + 800)) conv=fsync status=none"
  lag_end=$((lag_end + 262144 + 512))
  echo "$(now) $lag_log $lag_end" >> "$writes"
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

# Each job starts with node2 caught up: a job's own log is what node2 fetches during
# it (not the backlog of the job before, ~45 s after the 1 MiB job), as DRBD's jobs
# each start connected and in sync.
node2_caught_up() { wait_zero node2 fetch-rest; wait_zero node2 replay-rest; }
run_jobs node1 /dev/mars/r0 mars node2_caught_up
echo "bench: mars: 1 MiB sequential writes, shaped link, $shaped_runtime s" >&2
# Whether /mars filled (emergency mode: writes then bypass the log, and the rate is no
# longer that of logging): the times logging ceased during the run.
ceased() { on node1 'dmesg | grep -c "logging ceases"' || true; }
ceased_before=$(ceased)
shape
shaped_mars=$(runtime=$shaped_runtime job_seq node1 /dev/mars/r0)
unshape
shaped_ceased=$(( $(ceased) - ceased_before ))
echo "bench: mars shaped: $shaped_mars MB/s (logging ceased $shaped_ceased time(s))" >&2
on node2 'marsadm view r0' >&2 || true
cleanup

# --- the tables -----------------------------------------------------------------------
row() { # row LABEL UNIT ARRAY OP TARGET: one job's line; OP ge/le compares mars/DRBD A with TARGET
  local label=$1 unit=$2 op=$4 target=$5 r
  local -n a=$3
  r=$(ratio "${a[mars]}" "${a[drbdA]}")
  local sign="≥"; [ "$op" = le ] && sign="≤"
  local goal="" met=""
  if [ -n "$target" ]; then goal="$sign $target"; met=$(verdict "$r" "$op" "$target"); fi
  echo "| $label | ${a[raw]} $unit | ${a[drbdA]} $unit | ${a[drbdC]} $unit | ${a[mars]} $unit | $r | $goal | $met | $(ratio "${a[mars]}" "${a[raw]}") | $(ratio "${a[drbdA]}" "${a[raw]}") |"
}
shaped_vs_drbd=$(ratio "$shaped_mars" "$shaped_drbd")
shaped_vs_own=$(ratio "$shaped_mars" "${seq[mars]}")
fetch_vs_tcp=$(ratio "$fetch_mib" "$tcp_mib")
replay_vs_dd=$(ratio "$replay_mib" "$dd_mib")
table=$(cat <<EOT
| job (node1, fio, ${runtime} s each) | raw /dev/vdb | DRBD A | DRBD C | /dev/mars/r0 | mars / DRBD A | target | met | mars / raw | DRBD A / raw |
|---|---|---|---|---|---|---|---|---|---|
$(row "1 MiB sequential writes, iodepth 16" MB/s seq ge 1.0)
$(row "4 KiB random writes, iodepth 16" IOPS rand ge 1.0)
$(row "4 KiB write + fdatasync, iodepth 1: mean" µs lat le 1.2)
$(row "4 KiB write + fdatasync, iodepth 1: p99 (4 ms steps)" µs p99 le "")
$(row "xfs: 4 KiB files created, written, fsync'ed" files/s xfs ge "")

| shaped link: 10 Mbit/s, 100 ms each way; 1 MiB sequential writes, iodepth 16, ${shaped_runtime} s | result | target | met |
|---|---|---|---|
| DRBD protocol A (state at its end: $drbd_after_shape) | $shaped_drbd MB/s | | |
| /dev/mars/r0 (logging ceased $shaped_ceased time(s) as /mars filled; then writes bypass the log) | $shaped_mars MB/s | | |
| mars shaped / DRBD A shaped | $shaped_vs_drbd | ≥ 10 | $(verdict "$shaped_vs_drbd" ge 10) |
| mars shaped / mars unshaped (${seq[mars]} MB/s) | $shaped_vs_own | ≥ 0.8 | $(verdict "$shaped_vs_own" ge 0.8) |

| replication node1 → node2, unshaped | mars | reference | mars / reference | target | met |
|---|---|---|---|---|---|
| fetch of $((fetch_bytes >> 20)) MiB of logfile (replay paused) vs TCP copy of $log_mib MiB, /mars file to /mars file | $fetch_mib MiB/s | $tcp_mib MiB/s | $fetch_vs_tcp | ≥ 0.8 | $(verdict "$fetch_vs_tcp" ge 0.8) |
| replay of $((replay_bytes >> 20)) MiB of logfile vs dd oflag=direct of $log_mib MiB, node2's /mars file to its disk | $replay_mib MiB/s | $dd_mib MiB/s | $replay_vs_dd | ≥ 0.8 | $(verdict "$replay_vs_dd" ge 0.8) |
| fast full sync, 512 MiB disk differing in ~4 MiB | $(rate 512 "$sync_s") MiB/s compared ($sync_s s), $sync_kib KiB sent | | | | |
| lag, 256 KiB fsync'ed writes at ~$write_rate MiB/s | mean $lag_mean s, max $lag_max s | | | < 1 s | $(verdict "$lag_max" le 1) |
EOT
)
echo "$table"
{
  echo
  echo "## $(date -u +%Y-%m-%d): MARS and DRBD side by side, two VMs ($(git -C "$top" rev-parse --short HEAD))"
  echo
  echo "Command: \`make bench\` (scripts/bench.sh, RUNTIME=$runtime s per job, SHAPED_RUNTIME=$shaped_runtime s, LOG_MIB=$log_mib, SIZE=$size)."
  echo
  echo "$table"
} >> "$top/docu/benchmarks.md"

# The application's write latency while /mars fills (scripts/bench-emergency.sh).
"$top/scripts/bench-emergency.sh"
echo "bench: total $((SECONDS - start)) s"
