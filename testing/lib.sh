# Helpers for VM scenarios (sourced). A scenario is a bash script that exits 0 on
# success; it may assume node1 and node2 are up, and must leave every node it
# touched running again.
set -euo pipefail

TESTING=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB=$TESTING/testbed

tb() { "$TB" "$@"; }

# on NODE SHELL-COMMAND: run a shell command line in NODE.
on() {
  local node=$1
  shift
  "$TB" exec "$node" -- sh -c "$*"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

step() { echo "--- $*"; }

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

# retry SECONDS CMD...: run CMD until it succeeds, at most SECONDS seconds.
retry() {
  local limit=$1 start=$SECONDS
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

# join_cluster NODE...: each NODE joins node1's cluster and learns of resource r0.
join_cluster() {
  local n
  for n in "$@"; do
    on "$n" 'marsadm join-cluster node1 >/dev/null' || fail "join-cluster on $n"
    on "$n" 'marsadm wait-resource r0 --timeout 30' || fail "$n does not know resource r0"
  done
}

# view_field NODE FIELD: one field of `marsadm view --json r0` on NODE.
view_field() {
  on "$1" 'marsadm view --json r0' | python3 -c "import json,sys; print(json.load(sys.stdin)['resources'][0]['$2'])"
}

# DISK: the data disk scenarios use (vdb, 512 MiB; vda is a 64 MiB scratch disk that
# scenarios without a filesystem can use to keep syncs and checksums cheap).
DISK=${DISK:-vdb}

# zero_disks NODE...: each NODE's $DISK all zeros (cheaply, from the host when the
# testbed can; the disk must not be in use).
zero_disks() {
  local n
  for n in "$@"; do
    if ! tb disk-zero "$n" "$DISK" >/dev/null 2>&1; then
      on "$n" "dd if=/dev/zero of=/dev/$DISK bs=1M count=\$((\$(blockdev --getsize64 /dev/$DISK) >> 20)) oflag=direct status=none" || fail "cannot zero /dev/$DISK on $n"
    fi
  done
}

# disk_sum NODE: sha256 of NODE's $DISK, computed on the host from its image file (valid
# once the node holds no unwritten data for it, e.g. after `marsadm down`).
disk_sum() {
  local img
  case $DISK in vda) img=scratch.img ;; vdb) img=data.img ;; vdc) img=mars.img ;; esac
  tb disk-sum "$1" "$DISK" 2>/dev/null ||
    sha256sum < "${MARS_TESTBED_DIR:-/var/tmp/mars-testbed}/$1/$img" | cut -d' ' -f1
}

# disks_equal NODE...: the data disks of all NODEs are equal (sums in parallel).
disks_equal() {
  local n dir
  dir=$(mktemp -d)
  for n in "$@"; do disk_sum "$n" > "$dir/$n" & done
  wait
  for n in "$@"; do
    [ -s "$dir/$n" ] || fail "no checksum of $n's disk"
    assert_eq "$(cat "$dir/$1")" "$(cat "$dir/$n")" "data disk of $n vs $1"
  done
  echo "data disks equal: $(cat "$dir/$1")"
  rm -rf "$dir"
}
