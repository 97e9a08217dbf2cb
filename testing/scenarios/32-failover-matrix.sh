#!/usr/bin/env bash
# Forced failover (design reference §5.4, §5.6, docu/failover.md), a covering subset of
# {network connected, cut} x {writer stopped, still running on node1} x {node1's,
# node2's version survives} (every value of every dimension at least once; the whole
# matrix with MARS_FULL_MATRIX=1, `make check-full`):
#   cut       running  node2 survives   split brain shown on both, node1 invalidated
#   connected stopped  -                no split brain: node1 follows node2 by itself
#   connected running  node1 survives   node1 keeps its device (RemainsPrimary), is
#                                       designated again; node2 removed by node1
#                                       (leave-resource --host) and joined again
#                                       (join-resource --force)
# After each case three rounds of write + log-rotate replicate and the disks are equal.
# Raw writes on the 64 MiB scratch disk keep syncs and checksums cheap.
source "$(dirname "$0")/../lib.sh"
DISK=vda

cases=("cut running node2" "connected stopped node2" "connected running node1")
if [ "${MARS_FULL_MATRIX:-0}" = 1 ]; then
  cases=()
  for net in connected cut; do for w in stopped running; do for s in node1 node2; do
    cases+=("$net $w $s")
  done; done; done
fi

# writer NODE: writes 64 KiB blocks of random data to /dev/mars/r0 in a loop (direct
# I/O, the device stays open) until /tmp/stop-writer exists.
start_writer() {
  on "$1" 'rm -f /tmp/stop-writer; exec 3<>/dev/mars/r0; i=0
    while [ ! -e /tmp/stop-writer ]; do
      dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=1 seek=$((i % 900)) oflag=direct conv=notrunc status=none || exit 1
      i=$((i + 1)); done; echo "writer wrote $i blocks"' &
  writer=$!
  retry 20 on "$1" 'test "$(readlink /mars/resource-r0/actual-'"$1"'/open-count)" -gt 0' || fail "writer on $1 did not start"
}
stop_writer() {
  on "$1" 'touch /tmp/stop-writer'
  wait "$writer" || fail "writer on $1 failed"
  on "$1" 'rm -f /tmp/stop-writer'
}
write_some() { on "$1" 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=32 seek='"$2"' oflag=direct status=none' || fail "write on $1"; }
replay_link() { on "$1" "readlink /mars/resource-r0/replay-$1"; }
split() { on "$1" 'marsadm view-is-split-brain r0'; }

# rounds PRIMARY SECONDARY: three rounds of write + log-rotate; the secondary follows.
rounds() {
  local r
  for r in 1 2 3; do
    write_some "$1" $((r * 100))
    on "$1" 'marsadm log-rotate r0 >/dev/null' || fail "log-rotate on $1"
  done
  write_some "$1" 400
  retry 90 caught_up "$1" "$2" || fail "$2 does not follow $1: $(replay_link "$1") vs $(replay_link "$2"); $(on "$2" 'marsadm view r0; dmesg | tail -5')"
}

for c in "${cases[@]}"; do
  read -r net writing survivor <<<"$c"
  step "case: network $net, writer $writing, $survivor's version survives"
  tb net heal node1 node2 >/dev/null 2>&1 || true
  replicated_r0
  write_some node1 0
  on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
  retry 30 caught_up node1 node2 || fail "node2 not caught up"
  [ "$writing" = running ] && start_writer node1
  [ "$net" = cut ] && tb net cut node1 node2
  sleep 3

  on node2 'marsadm pause-fetch r0 >/dev/null'
  out=$(on node2 'marsadm primary --force r0 2>&1') || fail "primary --force on node2: $out"
  echo "$out"
  assert_eq 1 "$(on node2 'readlink /mars/resource-r0/actual-node2/is-primary')" "node2 is primary"
  if [ "$net" = connected ] && [ "$writing" = running ]; then
    grep -q "SPLIT BRAIN" <<<"$out" || fail "no split-brain warning while node1 is reachable and primary: $out"
  fi
  write_some node2 500
  [ "$net" = cut ] && tb net heal node1 node2

  if [ "$writing" = stopped ]; then
    # node1's history is a prefix of node2's: it leaves the role and follows.
    retry 60 on node1 'test "$(readlink /mars/resource-r0/actual-node1/is-primary)" = 0' || fail "node1 did not leave the primary role"
    retry 60 caught_up node2 node1 || fail "node1 does not follow node2: $(replay_link node1) vs $(replay_link node2)"
    assert_eq 0 "$(split node1)" "split brain on node1"
    assert_eq 0 "$(split node2)" "split brain on node2"
    primary=node2 secondary=node1
  else
    # Both wrote: both show the split brain, node1 keeps its open device.
    sleep 2
    for n in node1 node2; do
      retry 30 on $n 'test "$(marsadm view-is-split-brain r0)" = 1' || fail "no split brain shown on $n: $(on $n 'marsadm view r0')"
    done
    for n in node1 node2; do
      view=$(on $n 'marsadm view r0')
      echo "$view"
      grep -q 'SPLIT BRAIN' <<<"$view" || fail "view on $n shows no split brain"
    done
    assert_eq RemainsPrimary "$(on node1 'marsadm role r0')" "role of node1 while its device is open"
    if [ "$survivor" = node2 ]; then
      stop_writer node1
      retry 60 on node1 'test "$(readlink /mars/resource-r0/actual-node1/is-primary)" = 0' || fail "node1 did not leave the primary role"
      retry 30 on node1 'dmesg | grep -q "replay stopped"' || fail "node1's replay did not stop at the split"
      on node1 'marsadm invalidate r0' || fail "invalidate on node1"
      primary=node2 secondary=node1
    else
      on node1 'marsadm primary r0' || fail "node1 (still primary) designated again"
      stop_writer node1
      retry 60 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-primary)" = 0' || fail "node2 did not leave the primary role"
      # The other way to discard a version: the survivor removes the member, which
      # joins again (here onto the same disk).
      expect_status 1 on node1 'marsadm leave-resource r0 --host node2'
      on node1 'marsadm leave-resource r0 --host node2 --force' || fail "leave-resource --host node2 on node1"
      retry 30 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-attached)" = 0' || fail "node2 did not detach after being removed"
      on node2 "marsadm join-resource --force r0 /dev/$DISK" || fail "join-resource --force on node2"
      primary=node1 secondary=node2
    fi
    on $secondary 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "$secondary not UpToDate after invalidate: $(on $secondary 'marsadm view r0')"
    for n in node1 node2; do
      retry 30 on $n 'test "$(marsadm view-is-split-brain r0)" = 0' || fail "split brain still shown on $n: $(on $n 'marsadm view r0')"
    done
  fi
  rounds $primary $secondary
  for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
  same_disks $DISK node1 node2
done
