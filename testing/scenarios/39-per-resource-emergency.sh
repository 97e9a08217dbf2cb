#!/usr/bin/env bash
# Per-resource emergency (design reference §5.7, §9.2 J; docu/emergency.md): three
# resources, primary node1, secondary node2, with emergency limits 80, 60 and 40 % on
# node1. A foreign file fills node1's /mars to about half: the resources over their
# limit (80, 60) cease logging and their secondaries stop at the hole; the one under it
# (40) keeps replicating, its secondary UpToDate, and no host-wide level is reached.
# With the file gone, logging resumes; `invalidate` on node2 brings the two back; all
# disks equal. Also write throttling: off by default, it delays writes once switched on.
source "$(dirname "$0")/../lib.sh"

RES="ra:vda rb:vdd rc:vde"
fresh_modules node1 node2
zero_disks vda node1 node2
zero_disks vdd node1 node2
zero_disks vde node1 node2
on node1 'marsadm create-cluster >/dev/null' || fail "create-cluster"
for rd in $RES; do
  on node1 "marsadm create-resource ${rd%:*} /dev/${rd#*:} >/dev/null" || fail "create-resource $rd"
done
join node2 >/dev/null || fail "join-cluster"
for rd in $RES; do
  on node2 "marsadm wait-resource ${rd%:*} --timeout 30 && marsadm join-resource ${rd%:*} /dev/${rd#*:} >/dev/null" || fail "join $rd"
done
for r in ra rb rc; do
  on node2 "marsadm wait-resource $r --until uptodate --timeout 300" || fail "$r not UpToDate on node2: $(on node2 "marsadm view $r")"
done

writes() { # writes RES SEED: 16 MiB of random data at the start of /dev/mars/RES, must succeed
  on node1 "fio --name=w$2 --filename=/dev/mars/$1 --rw=write --bs=256k --size=16M --direct=1 --ioengine=psync \
    --verify=crc32c --do_verify=0 --randseed=$2 --minimal >/dev/null" || fail "writes to $1 failed"
}
uptodate_with() { # uptodate_with RES: node2 has replayed everything node1 wrote back
  [ "$(on node2 "readlink /mars/resource-$1/replay-node2 | cut -d, -f1,2")" = "$(on node1 "readlink /mars/resource-$1/replay-node1 | cut -d, -f1,2")" ]
}

step "limits 80/60/40 %; node1's /mars filled to about half by a foreign file"
on node1 'marsadm set-emergency-limit ra 80 && marsadm set-emergency-limit rb 60 && marsadm set-emergency-limit rc 40' || fail "set-emergency-limit"
expect_status 2 on node1 'marsadm set-emergency-limit ra 101 2>/dev/null'
assert_eq 80 "$(on node1 'readlink /mars/resource-ra/todo-node1/emergency-limit')" "limit of ra"
total=$(on node1 "df -m /mars | awk 'NR == 2 { print \$2 }'")
free=$(on node1 "df -m /mars | awk 'NR == 2 { print \$4 }'")
on node1 "fallocate -l $(((free - total / 2) << 20)) /mars/filler && sync" || fail "filler"
on node1 'df -m /mars'
for r in ra rb; do
  retry 30 on node1 "test \"\$(marsadm view-is-emergency $r)\" = 1" || fail "$r not in emergency: $(on node1 "marsadm view $r")"
done
assert_eq 0 "$(on node1 'marsadm view-is-emergency rc')" "view-is-emergency of rc (under its limit)"
assert_eq 0 "$(on node1 'cat /proc/sys/mars/mars_emergency_mode')" "host-wide level"

step "all three written: ra and rb cease logging, rc keeps replicating"
for r in ra rb rc; do writes $r 1; done
for r in ra rb; do
  retry 30 on node1 "dmesg | grep -q 'resource $r: ceased transaction logging'" || fail "$r did not cease logging"
  assert_eq EmergencyMode "$(on node1 "marsadm view --json $r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["resources"][0]["replstate"])')" "replstate of $r on node1"
done
on node1 'dmesg | grep -q "resource rc: ceased"' && fail "rc ceased logging"
retry 120 uptodate_with rc || fail "rc's secondary did not follow: $(on node2 'marsadm view rc')"
on node2 'marsadm wait-resource rc --until uptodate --timeout 60' || fail "rc not UpToDate on node2"
for r in ra rb; do
  orphan() { test "$(on node2 "marsadm view --json $r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["resources"][0]["replstate"])')" = Orphan; }
  retry 120 orphan || fail "$r not Orphan on node2: $(on node2 "marsadm view $r")"
done
on node1 'marsadm view all'

step "write throttling: off by default; switched on, it delays large writes"
assert_eq 0 "$(on node1 'cat /proc/sys/mars/write_throttle_count')" "throttled writes while off"
on node1 'echo 10 > /proc/sys/mars/write_throttle_start_percent'
retry 10 on node1 'fio --name=t --filename=/dev/mars/rc --rw=write --bs=1M --size=1M --direct=1 --minimal >/dev/null &&
  test "$(cat /proc/sys/mars/write_throttle_count)" -gt 0' ||
  fail "no write was throttled: $(on node1 'cat /proc/sys/mars/write_throttle_count')"
on node1 'echo 0 > /proc/sys/mars/write_throttle_start_percent'

step "the filler goes: ra and rb resume logging; invalidate on node2"
on node1 'rm /mars/filler'
for r in ra rb; do
  retry 30 on node1 "dmesg | grep -q 'resource $r: resumed transaction logging'" || fail "$r did not resume: $(on node1 "marsadm view $r")"
  on node2 "marsadm invalidate $r" || fail "invalidate $r"
done
for r in ra rb rc; do writes $r 2; done
for r in ra rb rc; do
  on node2 "marsadm wait-resource $r --until uptodate --timeout 300" || fail "$r not UpToDate: $(on node2 "marsadm view $r")"
  retry 60 uptodate_with $r || fail "$r: node2 did not replay up to node1"
done
step "level 2 on node2 (a secondary): it deletes the logfiles it has replayed, not the current one"
on node1 'marsadm log-rotate rc' || fail "log-rotate"
writes rc 3
retry 60 uptodate_with rc || fail "rc: node2 did not replay up to node1"
current=$(on node2 'readlink /mars/resource-rc/replay-node2 | cut -d, -f1')
old=$(on node2 "ls /mars/resource-rc | grep '^log-' | sort | head -1")
[ "$old" != "$current" ] || fail "no replayed logfile before $current on node2"
n2free=$(on node2 "df -m /mars | awk 'NR == 2 { print \$4 }'")
on node2 "cd /proc/sys/mars && echo 0 > required_free_space_1_mb && echo $((n2free + 100)) > required_free_space_2_mb &&
  echo 0 > required_free_space_3_mb && echo 0 > required_free_space_4_mb"
retry 30 on node2 "dmesg | grep -q 'resource rc: emergency: deleted replayed logfile $old'" || fail "node2 did not delete $old: $(on node2 'ls /mars/resource-rc')"
assert_eq 2 "$(on node2 'cat /proc/sys/mars/mars_emergency_mode')" "level on node2"
on node2 "test -e /mars/resource-rc/$current" || fail "node2 deleted its current logfile $current"
on node1 "test -e /mars/resource-rc/$old" || fail "node1 (primary) lost $old"
on node2 'cd /proc/sys/mars && for i in 1 2 3 4; do echo 64 > required_free_space_${i}_mb; done'
retry 30 on node2 'test "$(cat /proc/sys/mars/mars_emergency_mode)" = 0' || fail "node2's level did not fall"
step "a handover to a host whose resource is in emergency is refused"
on node2 'marsadm set-emergency-limit rc 100' || fail "set-emergency-limit on node2"
retry 10 on node2 'test "$(readlink /mars/resource-rc/actual-node2/has-emergency)" = 1' || fail "rc not in emergency on node2"
out=$(on node2 'marsadm primary rc 2>&1') && fail "handover to node2 accepted: $out"
grep -q "this host is in emergency mode" <<<"$out" || fail "refusal does not say why: $out"
assert_eq node1 "$(on node2 'readlink /mars/resource-rc/primary')" "primary of rc after the refusal"
on node2 'marsadm set-emergency-limit rc 0' || fail "set-emergency-limit 0 on node2"
on node1 'for r in ra rb rc; do marsadm set-emergency-limit $r 0; done'
on node1 'marsadm down all' && on node2 'marsadm down all' || fail "down"
for rd in $RES; do same_disks "${rd#*:}" node1 node2; done
on node1 'marsadm up all' && on node2 'marsadm up all' || fail "up"
