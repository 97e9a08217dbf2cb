# Helpers for VM scenarios (sourced). A scenario is a bash script that exits 0 on
# success; it may assume node1 and node2 are up, and must leave every node it
# touched running again.
set -euo pipefail

TESTING=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB=$TESTING/testbed

tb() { "$TB" "$@"; }

# on NODE SHELL-COMMAND: run a shell command line in NODE. Under MARS_SCENARIO_SLOWDOWN
# (make check-debug) marsadm's waits (`--timeout N`) last that many times longer, as
# `retry` does.
on() {
  local node=$1 cmd
  shift
  cmd=$*
  [ "${MARS_SCENARIO_SLOWDOWN:-1}" = 1 ] || cmd=$(slow_timeouts "$cmd")
  "$TB" exec "$node" -- sh -c "$cmd"
}

slow_timeouts() {
  local s=$1 out='' m
  while [[ $s =~ --timeout\ ([0-9]+) ]]; do
    m=${BASH_REMATCH[0]}
    out+="${s%%"$m"*}--timeout $((BASH_REMATCH[1] * MARS_SCENARIO_SLOWDOWN))"
    s=${s#*"$m"}
  done
  printf '%s' "$out$s"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Each step with the seconds since the scenario began: where the time goes, in every log.
step() { echo "--- $* (at ${SECONDS}s)"; }

assert_eq() { # assert_eq EXPECTED ACTUAL WHAT
  [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

# expect_status STATUS CMD...: run CMD, which must exit with STATUS.
expect_status() {
  local want=$1 got=0
  shift
  "$@" || got=$?
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want"
}

# retry SECONDS CMD...: run CMD until it succeeds, at most SECONDS seconds (times
# MARS_SCENARIO_SLOWDOWN: make check-debug sets it, its kernel runs several times slower).
retry() {
  local limit=$(($1 * ${MARS_SCENARIO_SLOWDOWN:-1})) start=$SECONDS
  shift
  until "$@"; do
    [ $((SECONDS - start)) -lt "$limit" ] || return 1
    sleep 0.5
  done
}

# fresh_modules NODE...: mars.ko freshly loaded with an empty /mars on each NODE (also
# after a scenario that failed with /dev/mars/r0 mounted).
fresh_modules() {
  local n
  for n in "$@"; do
    on "$n" 'umount /mnt/r0 2>/dev/null; rmmod mars 2>/dev/null; rm -rf /mars/*; modprobe mars'
  done
}

# create_r0: node1 creates a cluster and resource r0 on its /dev/vdb, and is its primary.
create_r0() {
  on node1 "marsadm create-cluster >/dev/null && marsadm create-resource r0 ${1:-/dev/vdb} >/dev/null"
  on node1 'marsadm wait-resource r0 --until primary --timeout 30' || fail "node1 did not become primary of r0"
}

# replicated_r0 [xfs]: fresh modules and zeroed $DISK on node1 and node2; node1 creates
# r0 on /dev/$DISK (with xfs mounted on /mnt/r0 if asked), node2 joins the cluster and
# the resource (its sync starts; waiting for it is the caller's). With xfs (the 512 MiB
# disk) node2 skips the sync with `fake-sync`, as the original's tests do: the disks
# were zeroed before create-resource and node2 replays node1's logfile from its start,
# so they end up equal (the scenarios compare them); syncs are the 64 MiB scenarios'.
replicated_r0() {
  fresh_modules node1 node2
  zero_disks "$DISK" node1 node2
  create_r0 "/dev/$DISK"
  if [ "${1:-}" = xfs ]; then
    on node1 'mkfs.xfs -q -f /dev/mars/r0 && mkdir -p /mnt/r0 && mount /dev/mars/r0 /mnt/r0' || fail "xfs on node1"
  fi
  join_cluster node2
  on node2 "marsadm join-resource r0 /dev/$DISK >/dev/null" || fail "join-resource on node2"
  if [ "${1:-}" = xfs ]; then
    on node2 'marsadm fake-sync r0 >/dev/null' || fail "fake-sync on node2"
  fi
}

# three_nodes_r0: a testbed of three nodes with fresh modules and zeroed $DISK; node1
# creates r0 on /dev/$DISK, node2 and node3 join the cluster (not the resource).
three_nodes_r0() {
  tb up --nodes 3 >/dev/null
  fresh_modules node1 node2 node3
  zero_disks "$DISK" node1 node2 node3
  create_r0 "/dev/$DISK"
  join_cluster node2 node3
}

# join NODE [PEER]: NODE joins the cluster of PEER (default node1) with a copy of PEER's
# secret, as an operator copies /mars/cluster.key (marsadm's status is the function's).
join() {
  local peer=${2:-node1} key
  key=$(on "$peer" 'cat /mars/cluster.key') || fail "no cluster secret on $peer"
  on "$1" "echo $key | marsadm join-cluster $peer --secret-file -"
}

# join_cluster NODE...: each NODE joins node1's cluster and learns of resource r0.
join_cluster() {
  local n
  for n in "$@"; do
    join "$n" >/dev/null || fail "join-cluster on $n"
    on "$n" 'marsadm wait-resource r0 --timeout 30' || fail "$n does not know resource r0"
  done
}

# log_end NODE LOGFILE: where the records of LOGFILE (a path on NODE) end. A primary's
# current logfile is longer: its logger writes zeros ahead (docu/log-format.md).
log_end() {
  on "$1" "marsadm cat --summary --json $2" | sed -n 's/.*"valid_bytes": *\([0-9]*\).*/\1/p'
}

# caught_up [-r RES] PRIMARY SECONDARY...: PRIMARY has written back everything it
# logged (no write buffered, its replay link names the end of its records) and each
# SECONDARY has replayed up to there. Equal replay links alone are not enough: both can
# name the same batch boundary of a logfile that is still growing, and a `down` then
# stops the secondary short of the last writes. mem_used_kb counts whole KiB, so writes
# must be at least 1 KiB; it is the host's total, so other resources must be quiet.
caught_up() {
  local res=r0 primary at end n
  if [ "$1" = -r ]; then res=$2; shift 2; fi
  primary=$1
  shift
  on "$primary" 'test "$(cat /proc/sys/mars/mem_used_kb)" = 0' || return 1
  at=$(on "$primary" "readlink /mars/resource-$res/replay-$primary" | cut -d, -f1,2)
  end=$(log_end "$primary" "/mars/resource-$res/${at%,*}")
  [ -n "$end" ] && [ "${at#*,}" = "$end" ] || return 1
  for n in "$@"; do
    [ "$(on "$n" "readlink /mars/resource-$res/replay-$n" | cut -d, -f1,2)" = "$at" ] || return 1
  done
}

# write_block NODE BLOCK: 64 KiB of random data at BLOCK (64 KiB units) of /dev/mars/r0
# on NODE, flushed.
write_block() { on "$1" "head -c 65536 /dev/urandom | dd of=/dev/mars/r0 bs=65536 seek=$2 conv=fsync status=none"; }

# view_field NODE FIELD: one field of `marsadm view --json r0` on NODE.
view_field() {
  on "$1" 'marsadm view --json r0' | python3 -c "import json,sys; print(json.load(sys.stdin)['resources'][0]['$2'])"
}

# DISK: the data disk a scenario uses (vdb, 512 MiB; vda is a 64 MiB scratch disk that
# scenarios without a filesystem use to keep syncs and checksums cheap; vdd and vde are
# two more such, for several resources per node).
DISK=${DISK:-vdb}

# tb_state: the testbed's state directory (per instance).
tb_state() {
  if [ -n "${MARS_TESTBED_INSTANCE:-}" ]; then
    echo "${MARS_TESTBED_DIR:-/var/tmp/mars-tb-$MARS_TESTBED_INSTANCE}"
  else
    echo "${MARS_TESTBED_DIR:-/var/tmp/mars-testbed}"
  fi
}

# zero_disks DISK NODE...: DISK (vdb, ...) of every NODE all zeros, done on the host at
# once for all (testbed disk-zero; refused while the disk is in use in the guest).
zero_disks() { on_nodes "zero_disk_on $1" "${@:2}"; }
zero_disk_on() { tb disk-zero "$2" "$1"; }

# on_nodes 'FUNC ARG...' NODE...: `FUNC ARG... NODE` for all NODEs at once (the work is
# mostly waiting: for the host's disk I/O or for TCG guests); fails if it failed on any.
# FUNC and its ARGs are split on blanks.
on_nodes() {
  local f=$1 n p pids=() rc=0
  shift
  # shellcheck disable=SC2086 # FUNC ARG... is split on purpose
  for n in "$@"; do $f "$n" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ "$rc" = 0 ] || fail "$f failed on one of: $*"
}

# shrink_disks IMAGE MIB NODE...: each NODE's disk image IMAGE (data.img, scratch.img,
# ...) back to MIB MiB: crash the NODEs, cut the image files, boot again (a disk only
# grows while its node runs; scenarios that grow one restore it for the next).
shrink_disks() {
  local img=$1 mib=$2 n
  shift 2
  for n in "$@"; do tb crash "$n"; done
  for n in "$@"; do truncate -s "${mib}M" "$(tb_state)/$n/$img"; done
  tb up >/dev/null
}

# same_disks [--bytes N] DISK NODE...: DISK (its first N bytes) hashes the same on every
# NODE (testbed disk-sum on the host, all at once). Valid once no NODE holds unwritten
# data for DISK: after `marsadm down` of the resource on it. Prints the hash.
same_disks() {
  local bytes=() disk n dir sums
  if [ "$1" = --bytes ]; then bytes=(--bytes "$2"); shift 2; fi
  disk=$1
  shift
  dir=$(mktemp -d)
  on_nodes "disk_sum_on $dir $disk ${bytes[*]}" "$@"
  sums=$(for n in "$@"; do echo "$n $(cat "$dir/$n")"; done)
  rm -rf "$dir"
  if [ "$(cut -d' ' -f2 <<<"$sums" | sort -u | wc -l)" != 1 ]; then
    disk_diff "$disk" "$@"
    fail "$disk differs: $(tr '\n' ';' <<<"$sums")"
  fi
  echo "$disk equal on $*: $(head -1 <<<"$sums" | cut -d' ' -f2)"
}

# disk_sum_on DIR DISK [--bytes N] NODE: NODE's DISK hash into DIR/NODE.
disk_sum_on() { tb disk-sum "${!#}" "$2" "${@:3:$#-3}" > "$1/${!#}"; }

# disk_diff DISK NODE...: for a failed same_disks, which 4 KiB blocks of DISK differ
# between the first NODE and each other (from the image files on the host), and whether
# the sums still change a few seconds later (write-back still under way).
disk_diff() {
  local disk=$1 first=$2 n img state
  shift 2
  state=$(tb_state)
  case $disk in vda) img=scratch.img ;; vdb) img=data.img ;; vdc) img=mars.img ;; vdd) img=scratch2.img ;; vde) img=scratch3.img ;; esac
  for n in "$@"; do
    echo "$disk: 4 KiB blocks differing between $first and $n (count block-number, first 20 runs):"
    cmp -l "$state/$first/$img" "$state/$n/$img" | head -2000000 | awk '{ print int(($1 - 1) / 4096) }' |
      uniq | awk 'NR == 1 || $1 != prev + 1 { if (NR > 1) print start "-" prev; start = $1 } { prev = $1 } END { if (NR) print start "-" prev }' |
      head -20 || true
  done
  sleep 3
  echo "sums 3 s later: $(for n in "$first" "$@"; do echo -n "$n $(tb disk-sum "$n" "$disk"); "; done)"
}
