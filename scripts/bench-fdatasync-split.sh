#!/usr/bin/env bash
# Where the 4 KiB write + fdatasync latency of /dev/mars goes (issue 11): the job of
# `make bench` (scripts/bench-lib.sh job_fdatasync) on the raw disk, on /dev/mars/r0
# without a secondary, with node2 fetching and replaying, fetching with its replay
# paused, and with its fetch paused; same two testbed VMs, one run. Prints "NAME: MEAN_US P99_US" lines. Not part of `make bench`.
# RUNTIME (s per job, default 12).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tb=$top/testing/testbed
runtime=${RUNTIME:-12}
size=256M
# shellcheck source=scripts/bench-lib.sh
. "$top/scripts/bench-lib.sh"
"$tb" up --nodes 2 >/dev/null
for n in node1 node2; do on $n 'rmmod mars 2>/dev/null; rm -rf /mars/*; true'; done
for n in node1 node2; do "$tb" disk-zero $n vdb; done
echo "raw /dev/vdb: $(job_fdatasync node1 /dev/vdb)"
for n in node1 node2; do on $n 'modprobe mars'; done
on node1 'marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vdb >/dev/null && marsadm wait-resource r0 --until primary'
echo "mars, no secondary: $(job_fdatasync node1 /dev/mars/r0)"
key=$(on node1 'cat /mars/cluster.key')
on node2 "echo $key | marsadm join-cluster node1 --secret-file - >/dev/null && marsadm wait-resource r0 &&
  marsadm join-resource r0 /dev/vdb >/dev/null && marsadm wait-resource r0 --until uptodate --timeout 300"
echo "mars, node2 fetching and replaying: $(job_fdatasync node1 /dev/mars/r0)"
on node2 'marsadm pause-replay r0 >/dev/null'
echo "mars, node2 fetching, its replay paused: $(job_fdatasync node1 /dev/mars/r0)"
on node2 'marsadm pause-fetch r0 >/dev/null'
sleep 2
echo "mars, node2's fetch paused: $(job_fdatasync node1 /dev/mars/r0)"
for n in node2 node1; do on $n 'marsadm down r0 >/dev/null 2>&1; rmmod mars; rm -rf /mars/*; true'; done
"$tb" down >/dev/null
