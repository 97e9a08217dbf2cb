#!/usr/bin/env bash
# Where the time of /dev/mars goes when it serves a secondary (issue 11): the fdatasync
# and 1 MiB sequential jobs of `make bench` (scripts/bench-lib.sh) on the raw disk, on
# /dev/mars/r0 without a secondary, with node2 fetching and replaying, fetching with
# its replay paused, and with its fetch paused; and the fetch rate of LOG_MIB MiB of
# logfile (replay paused). Same two testbed VMs, one run. Not part of `make bench`.
# Prints "NAME: FIGURES" lines: fdatasync "MEAN_US P99_US", sequential "MB/s", fetch "MiB/s".
# RUNTIME (s per job, default 12), LOG_MIB (default 128).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tb=$top/testing/testbed
runtime=${RUNTIME:-12}
log_mib=${LOG_MIB:-128}
size=256M
# shellcheck source=scripts/bench-lib.sh
. "$top/scripts/bench-lib.sh"
# /mars holds the log of every mars job below (node2 fetches all of it; sparse image).
"$tb" up --nodes 2 --mars-mib 8192 >/dev/null
for n in node1 node2; do on $n 'rmmod mars 2>/dev/null; rm -rf /mars/*; true'; done
for n in node1 node2; do "$tb" disk-zero $n vdb; done
both_jobs() { # both_jobs NAME DEV: both jobs on node1's DEV
  echo "$1, fdatasync: $(job_fdatasync node1 "$2")"
  echo "$1, 1 MiB sequential: $(job_seq node1 "$2")"
}
both_jobs "raw /dev/vdb" /dev/vdb
mars_primary
both_jobs "mars, no secondary" /dev/mars/r0
mars_join_cluster
on node2 'marsadm join-resource r0 /dev/vdb >/dev/null && marsadm wait-resource r0 --until uptodate --timeout 600'
both_jobs "mars, node2 fetching and replaying" /dev/mars/r0

on node2 'marsadm wait-resource r0 --until uptodate --timeout 600'
fetched=$(fetch_log "$log_mib")
read -r fetch_bytes fetch_s <<<"$fetched"
echo "mars, fetch of $((fetch_bytes >> 20)) MiB (replay paused): $(rate "$((fetch_bytes >> 20))" "$fetch_s")"

echo "mars, node2 fetching, its replay paused, fdatasync: $(job_fdatasync node1 /dev/mars/r0)"
on node2 'marsadm pause-fetch r0 >/dev/null'
sleep 2
both_jobs "mars, node2's fetch paused" /dev/mars/r0
for n in node2 node1; do on $n 'marsadm down r0 >/dev/null 2>&1; rmmod mars; rm -rf /mars/*; true'; done
"$tb" down >/dev/null
