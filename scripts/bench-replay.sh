#!/usr/bin/env bash
# Where replay's time goes (docu/benchmarks.md, 2026-12-06): `make bench`'s replay of
# LOG_MIB MiB (fetched with replay paused) twice in the same two testbed VMs, the first
# time after the copy was synced from user space (its fdatasync timed apart), the
# second as `make bench` does it (replay syncs the copy itself); and the dd reference
# of `make bench` (a cached /mars file written to the disk with oflag=direct). Not part
# of `make bench`. LOG_MIB (default 128).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tb=$top/testing/testbed
runtime=12
size=256M
log_mib=${LOG_MIB:-128}
# shellcheck source=scripts/bench-lib.sh
. "$top/scripts/bench-lib.sh"
"$tb" up --nodes 2 --mars-mib 8192 >/dev/null
for n in node1 node2; do on $n 'rmmod mars 2>/dev/null; rm -rf /mars/*; true'; done
for n in node1 node2; do "$tb" disk-zero $n vdb; done
on node2 "dd if=/dev/urandom of=/mars/bench-copy bs=1M count=$log_mib status=none && sync"
t0=$(now)
on node2 'dd if=/mars/bench-copy of=/dev/vdb bs=1M oflag=direct status=none'
dd_s=$(elapsed "$t0" "$(now)")
on node2 'rm -f /mars/bench-copy'
echo "dd of $log_mib MiB: $(rate "$log_mib" "$dd_s") MiB/s"
"$tb" disk-zero node2 vdb
mars_primary
mars_join_cluster
on node2 'marsadm join-resource r0 /dev/vdb >/dev/null && marsadm wait-resource r0 --until uptodate --timeout 600'
for round in "copy synced first" "as make bench"; do
  read -r fetch_bytes fetch_s <<<"$(fetch_log "$log_mib")"
  echo "fetch of $((fetch_bytes >> 20)) MiB: $(rate "$((fetch_bytes >> 20))" "$fetch_s") MiB/s"
  replay_bytes=$(on node2 'marsadm view-replay-rest r0')
  if [ "$round" = "copy synced first" ]; then
    t0=$(now)
    on node2 'for f in /mars/resource-r0/log-*; do dd if=/dev/null of=$f conv=notrunc,fsync status=none; done'
    echo "fdatasync of the copies from user space: $(elapsed "$t0" "$(now)") s"
  fi
  t0=$(now)
  on node2 'marsadm resume-replay r0 >/dev/null'
  wait_zero node2 replay-rest
  replay_s=$(elapsed "$t0" "$(now)")
  echo "replay ($round): $(rate "$((replay_bytes >> 20))" "$replay_s") MiB/s"
done
for n in node2 node1; do on $n 'marsadm down r0 >/dev/null 2>&1; rmmod mars; rm -rf /mars/*; true'; done
"$tb" down >/dev/null
