#!/usr/bin/env bash
# Several resources per host and the sync limit (design reference §6 "sync-limit",
# §9.2 N): node1 is primary of r0 (vda), r1 (vdd) and r2 (vde), node2 their secondary.
# node2's disks are made to differ, then with /proc/sys/mars/sync_limit = 1 on node2
# `marsadm invalidate all` wants three full syncs: at every look at most one runs
# (sync_nr, and is-syncing over the resources), the others are queued
# (is-sync-queued, SyncQueued in view), and they run one after the other in the order
# invalidate asked for them (name order, although its requests may reach the module in
# different rounds) until all are UpToDate; the same with sync_limit = 2 (two run, the
# third waits); after `down` the disks are equal.
source "$(dirname "$0")/../lib.sh"

RES=(r0 r1 r2)
declare -A DEV=([r0]=vda [r1]=vdd [r2]=vde)

step "node1 creates r0, r1, r2; node2 joins all three"
fresh_modules node1 node2
for r in "${RES[@]}"; do zero_disks "${DEV[$r]}" node1 node2; done
on node1 'marsadm create-cluster >/dev/null' || fail "create-cluster"
for r in "${RES[@]}"; do
  on node1 "marsadm create-resource $r /dev/${DEV[$r]} >/dev/null" || fail "create-resource $r"
done
on node1 'marsadm wait-resource all --until primary --timeout 60' || fail "node1 not primary of all: $(on node1 'marsadm view all')"
join node2 >/dev/null || fail "join-cluster"
on node2 'marsadm wait-resource r0,r1,r2 --timeout 30' || fail "node2 does not know all resources"
for r in "${RES[@]}"; do
  on node2 "marsadm join-resource $r /dev/${DEV[$r]} >/dev/null" || fail "join-resource $r"
done
on node2 'marsadm wait-resource all --until uptodate --timeout 180' || fail "node2 not UpToDate: $(on node2 'marsadm view all')"
out=$(on node1 'marsadm view-is-primary all')
echo "$out"
assert_eq "$(printf -- '--------- resource %s\n1\n' "${RES[@]}")" "$out" "view-is-primary all on node1"
assert_eq 3 "$(on node2 'marsadm view all --json' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["resources"]))')" "resources in view --json all"

step "node2's disks are made to differ from node1's"
on node2 'marsadm down all' || fail "down all on node2"
on node2 'for d in vda vdd vde; do dd if=/dev/urandom of=/dev/$d bs=1M count=2 seek=20 oflag=direct status=none || exit 1; done' ||
  fail "writing to node2's disks"
for r in "${RES[@]}"; do
  d=${DEV[$r]}
  [ "$(tb disk-sum node1 "$d")" != "$(tb disk-sum node2 "$d")" ] || fail "$d still equal on both"
done

# look: "sync_nr sync_wanted r:is-syncing:is-sync-queued:syncstatus ..." on node2.
look() {
  on node2 'printf "%s %s" $(cat /proc/sys/mars/sync_nr /proc/sys/mars/sync_wanted)
    for r in r0 r1 r2; do d=/mars/resource-$r; a=$d/actual-node2
      printf " %s:%s:%s:%s" $r "$(readlink $a/is-syncing)" "$(readlink $a/is-sync-queued)" "$(readlink $d/syncstatus-node2)"; done; echo'
}

# watch LIMIT: with sync_limit = LIMIT on node2, `invalidate all`; then look again and
# again until every sync is done: never more than LIMIT syncs (sync_nr, is-syncing), a
# resource is never syncing and queued at once. Sets `order` (the resources in the
# order their syncs started), `queued_seen`, `max_nr`, `max_wanted`; the first time
# (LIMIT 1) it checks what view shows of r2 while it waits.
watch() {
  local limit=$1 nr wanted rest item r s q st syncing done now prev="" looks=0 start=$SECONDS
  order="" queued_seen="" max_nr=0 max_wanted=0
  on node2 "echo $limit > /proc/sys/mars/sync_limit" || fail "setting sync_limit"
  assert_eq "$limit" "$(on node2 'cat /proc/sys/mars/sync_limit')" "sync_limit"
  on node2 'marsadm invalidate all' || fail "invalidate all"
  while :; do
    read -r nr wanted rest <<<"$(look)"
    looks=$((looks + 1))
    [ "$nr" -le "$limit" ] || fail "sync_nr = $nr with sync_limit $limit: $nr $wanted $rest"
    [ "$nr" -gt "$max_nr" ] && max_nr=$nr
    [ "$wanted" -gt "$max_wanted" ] && max_wanted=$wanted
    syncing=0 done=0 now=""
    for item in $rest; do
      IFS=: read -r r s q st <<<"$item"
      # A sync whose status reached the size has finished: the module stops its thread
      # in its next round, and the links of one look are not read at one instant.
      if [ "$s" = 1 ] && [ "$st" != "$size" ]; then
        syncing=$((syncing + 1)) now="$now $r"
        [[ " $prev " != *" $r "* ]] && order="$order $r"
      fi
      [ "$q" = 1 ] && [ "$s" = 1 ] && fail "$r is both syncing and queued: $rest"
      [ "$q" = 1 ] && [[ " $queued_seen " != *" $r "* ]] && queued_seen="$queued_seen $r"
      [ "$st" = "$size" ] && [ "$s" = 0 ] && [ "$q" = 0 ] && done=$((done + 1))
    done
    prev=$now
    [ "$syncing" -le "$limit" ] || fail "$syncing resources syncing at once with sync_limit $limit: $rest"
    # Once, while r2 waits behind a running sync: the view shows it queued.
    if [ "$limit" = 1 ] && [ "$viewed" = 0 ] && [ -n "$now" ] && [ "$now" != " r2" ] && [[ "$rest" == *r2:0:1:* ]]; then
      text=$(on node2 'marsadm view-lines r2')
      echo "$text"
      grep -q ' Inconsistent SyncQueued Secondary ' <<<"$text" || fail "view r2 does not show SyncQueued: $text"
      grep -q 'sync queued: waiting for sync_limit' <<<"$text" || fail "view r2 has no queue line: $text"
      grep -q '^sync_limit=1: at most 1 full sync' <<<"$text" || fail "view has no sync_limit header: $text"
      json=$(on node2 'marsadm view r2 --json' | python3 -c 'import json,sys; r=json.load(sys.stdin)["resources"][0]; print(r["replstate"], r["is_sync_queued"])')
      assert_eq "SyncQueued True" "$json" "view --json r2 while queued"
      viewed=1
    fi
    [ "$done" = 3 ] && [ "$wanted" = 0 ] && break
    [ $((SECONDS - start)) -lt $((300 * ${MARS_SCENARIO_SLOWDOWN:-1})) ] || fail "syncs not finished within $((300 * ${MARS_SCENARIO_SLOWDOWN:-1})) s: $nr $wanted $rest"
    sleep 0.3
  done
  echo "sync_limit $limit, $looks looks: syncs started in the order:$order; seen queued:$queued_seen; at most $max_nr running, $max_wanted wanted"
  on node2 'marsadm wait-resource all --until uptodate --timeout 120' || fail "node2 not UpToDate: $(on node2 'marsadm view all')"
  assert_eq "0 0" "$(on node2 'echo $(cat /proc/sys/mars/sync_nr /proc/sys/mars/sync_wanted)')" "sync_nr and sync_wanted at the end"
}

# Slow enough (64 MiB at 8 MiB/s: 8 s per sync) that syncs without the limit overlap,
# and that every sync is seen running by a look; on a kernel N times slower
# (MARS_SCENARIO_SLOWDOWN: the debug kernel, where a look takes seconds) N times slower.
on node2 "echo $((8192 / ${MARS_SCENARIO_SLOWDOWN:-1})) > /proc/sys/mars/sync_limit_kb"
size=$(on node2 'marsadm view-resource-size r0')
viewed=0

step "sync_limit = 1 on node2; invalidate all: one sync at a time, the others queued in order"
watch 1
assert_eq " r0 r1 r2" "$order" "order in which the syncs started"
assert_eq " r1 r2" "$queued_seen" "resources seen queued"
assert_eq "1 3" "$max_nr $max_wanted" "most syncs running and wanted at once"
assert_eq 1 "$viewed" "view checked while r2 was queued"
on node2 'marsadm view-1and1 all'

step "sync_limit = 2: two at a time, the third queued"
watch 2
assert_eq " r0 r1 r2" "$order" "order in which the syncs started"
assert_eq " r2" "$queued_seen" "resources seen queued"
assert_eq "2 3" "$max_nr $max_wanted" "most syncs running and wanted at once"

step "after down everywhere the disks are equal"
on node2 'marsadm down all' || fail "down all on node2"
on node1 'marsadm down all' || fail "down all on node1"
for r in "${RES[@]}"; do same_disks "${DEV[$r]}" node1 node2; done
on node2 'echo 0 > /proc/sys/mars/sync_limit && echo 0 > /proc/sys/mars/sync_limit_kb'
echo "ok"
