#!/usr/bin/env bash
# marsadm's resource commands on one host: view (text, JSON, macros), secondary and
# primary, down and up, detach and attach (each refused while the device is open),
# delete-resource; the module carries out each change and reports it.
source "$(dirname "$0")/../lib.sh"

n=node1
on $n 'rmmod mars 2>/dev/null; rm -rf /mars/*; true'
on $n 'modprobe mars && marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vdb >/dev/null'
retry 30 on $n 'test -b /dev/mars/r0' || fail "/dev/mars/r0 did not appear"

step "view"
out=$(on $n 'marsadm view r0')
echo "$out"
# The original's shape: the LocalDevice line, the resource line [members/configured].
grep -q '^  LocalDevice /dev/mars/r0 \[Closed\]$' <<<"$out" || fail "view: no LocalDevice line"
grep -q '^  r0 \[1/1\] UpToDate Replicating DCASFR Primary node1 *$' <<<"$out" || fail "view: resource line"
# DRBD's words, as macros.
assert_eq "UpToDate WFConnection" "$(on $n 'echo $(marsadm dstate r0) $(marsadm cstate r0)')" "dstate and cstate"
# This implementation's own form (its only member: no secondary follows it).
out=$(on $n 'marsadm view-lines r0')
grep -q '^--------- resource r0 (536870912 bytes), primary: node1$' <<<"$out" || fail "view-lines header: $out"
grep -q '^node1 UpToDate NoSecondaryConnected Primary /dev/mars/r0 open=0 writeback-rest=0$' <<<"$out" || fail "view-lines line: $out"
on $n 'marsadm view --json' | python3 -c 'import json, sys
v = json.load(sys.stdin)
assert v["schema_version"] == 8 and v["host"] == "node1", v
assert v["resources"][0]["original"] == {"diskstate": "UpToDate", "replstate": "Replicating", "flags": "DCASFR", "role": "Primary"}, v
r = v["resources"][0]
assert (r["name"], r["role"], r["diskstate"], r["is_primary"], r["size"]) == ("r0", "Primary", "UpToDate", True, 536870912), r
assert (r["device_in_flight"], r["device_wait_s"]) == (0, 0.0) and r["device_ops_rate"] >= 0 and r["rates"]["device"] >= 0, r
assert [(m["host"], m["role"], m["diskstate"], m["lag_bytes"]) for m in r["members"]] == [("node1", "Primary", "UpToDate", None)], r' ||
  fail "view --json"
assert_eq 1 "$(on $n 'marsadm view-is-primary r0')" "view-is-primary"
assert_eq 1 "$(on $n 'marsadm view-is-attached r0')" "view-is-attached"
assert_eq node1 "$(on $n 'marsadm view-get-primary r0')" "view-get-primary"
assert_eq 536870912 "$(on $n 'marsadm view-resource-size r0')" "view-resource-size"
assert_eq 0 "$(on $n 'marsadm view-writeback-rest r0')" "view-writeback-rest"
expect_status 5 on $n 'marsadm view nosuch'

step "--dry-run: every check, nothing changed (also not the secret, the logfiles, systemd)"
snapshot() { on $n 'cd /mars && find . -printf "%p %y %s %l %T@\n" | grep -v /actual- | sort'; } # (actual-*: the module's reports)
before=$(snapshot)
for cmd in 'secondary r0' 'down r0' 'pause-fetch r0' 'resume-replay-global r0' 'set-rpo r0 30' 'log-rotate r0' \
  'log-delete-all r0' 'rotate-secret --generate /root/new.key' 'lowlevel-set-host-ip node1 10.77.0.99' 'resize r0' 'cron' \
  'invalidate r0' 'delete-resource r0'; do
  out=$(on $n "marsadm --dry-run $cmd" 2>&1) && rc=0 || rc=$?
  echo "marsadm --dry-run $cmd: exit $rc: $out"
  case "$cmd" in
    invalidate* | delete-resource*) [ "$rc" = 1 ] || fail "--dry-run $cmd: exit $rc, expected the refusal (1)" ;;
    *) [ "$rc" = 0 ] && grep -q '^dry run: ' <<<"$out" || fail "--dry-run $cmd: exit $rc: $out" ;;
  esac
done
on $n 'test ! -e /root/new.key' || fail "--dry-run rotate-secret wrote its file"
after=$(snapshot)
[ "$before" = "$after" ] || fail "--dry-run changed /mars: $(diff <(echo "$before") <(echo "$after"))"
assert_eq 1 "$(on $n 'marsadm view-is-primary r0')" "primary after the dry runs"

step "refusals while the device is open"
on $n 'mkfs.xfs -q -f /dev/mars/r0 && mkdir -p /mnt/r0 && mount /dev/mars/r0 /mnt/r0 && echo hello > /mnt/r0/f && sync'
retry 10 on $n 'test "$(readlink /mars/resource-r0/actual-node1/open-count)" = 1' || fail "open-count"
for cmd in secondary down detach; do
  out=$(on $n "marsadm $cmd r0" 2>&1) && fail "$cmd succeeded while mounted"
  grep -q "device is open by 1 user(s) (mounted?): close it before $cmd" <<<"$out" || fail "$cmd message: $out"
done
# The original's view shape: the LocalDevice line says where it is mounted.
on $n 'marsadm view r0' | grep -Eq '^  LocalDevice /dev/mars/r0 \[Opened, /mnt/r0, [0-9]+ IOPS(, [0-9]+ Flying)?\]$' || fail "LocalDevice line: $(on $n 'marsadm view r0')"
expect_status 6 on $n 'marsadm wait-umount r0 --timeout 2'
on $n 'umount /mnt/r0'
on $n 'marsadm wait-umount r0 --timeout 10' || fail "wait-umount once unmounted"

step "secondary: the device goes away; primary: it comes back with the data"
on $n 'marsadm secondary r0'
on $n 'test ! -e /dev/mars/r0' || fail "device still there after secondary"
assert_eq "" "$(on $n 'marsadm view-get-primary r0')" "primary after secondary (empty for none, as the original)"
on $n 'marsadm view-lines r0' | grep -q '^node1 UpToDate NoPrimaryDesignated Secondary - ' || fail "view-lines after secondary"
on $n 'marsadm view r0' | grep -q '^  r0 \[1/1\] UpToDate NoPrimaryDesignated dCASFR Secondary  *$' || fail "view after secondary: $(on $n 'marsadm view r0')"
on $n 'marsadm primary r0'
on $n 'mount /dev/mars/r0 /mnt/r0 && test "$(cat /mnt/r0/f)" = hello && umount /mnt/r0' || fail "data after primary"

step "down and up"
on $n 'marsadm down r0'
on $n 'test ! -e /dev/mars/r0' || fail "device still there after down"
assert_eq 0 "$(on $n 'marsadm view-is-attached r0')" "attached after down"
on $n 'marsadm view-lines r0' | grep -q '^node1 Detached NotStarted None - ' || fail "view-lines after down"
on $n 'dd if=/dev/vdb of=/dev/null bs=4096 count=1 status=none' || fail "disk not readable after down"
on $n 'marsadm up r0'
retry 10 on $n 'test -b /dev/mars/r0' || fail "device not back after up"

step "detach and attach"
on $n 'marsadm detach r0 && marsadm attach r0'
retry 10 on $n 'test -b /dev/mars/r0' || fail "device not back after attach"

step "resource lists and all: every resource is checked before any changes"
out=$(on $n 'marsadm detach r0,nosuch' 2>&1) && fail "detach r0,nosuch succeeded"
grep -q "resource nosuch does not exist" <<<"$out" || fail "detach r0,nosuch message: $out"
assert_eq 1 "$(on $n 'marsadm view-is-attached r0')" "r0 attached after the refused detach r0,nosuch"
assert_eq "$(printf -- '--------- resource r0\n1')" "$(on $n 'marsadm view-is-attached all')" "view-is-attached all"
on $n 'marsadm detach all' || fail "detach all"
assert_eq 0 "$(on $n 'marsadm view-is-attached r0')" "attached after detach all"
on $n 'marsadm attach all' || fail "attach all"
retry 10 on $n 'test -b /dev/mars/r0' || fail "device not back after attach all"

step "two commands at once: a change waits for the other marsadm, a view does not"
# A marsadm killed half-way holds nothing: its lock goes with it.
on $n 'marsadm pause-sync r0 & sleep 0.2; kill -9 $! 2>/dev/null; wait; marsadm resume-sync r0' || fail "a command after a killed one"
out=$(on $n 'flock /mars sleep 4 & sleep 0.5
    s=$(date +%s); marsadm view r0 >/dev/null || exit 1; v=$(($(date +%s) - s))
    marsadm pause-fetch r0 || exit 1; p=$(($(date +%s) - s)); marsadm resume-fetch r0 >/dev/null; wait; echo "$v $p"' 2>&1) || fail "pause-fetch while another holds the lock: $out"
grep -q "waiting for another marsadm on this host to finish" <<<"$out" || fail "no waiting message: $out"
read -r v p <<<"$(tail -1 <<<"$out")"
[ "$v" -le 1 ] && [ "$p" -ge 3 ] || fail "view took $v s (should not wait), pause-fetch $p s (should wait for the lock)"
expect_status 4 on $n 'flock /mars sleep 3 & sleep 0.5; marsadm --timeout 1 pause-fetch r0; rc=$?; wait; exit $rc'

step "hook scripts: run before and after a change; a failing pre hook refuses it"
on $n 'mkdir -p /etc/marsadm/hook-pre.d && rm -f /tmp/hooks.log
  printf "#!/bin/sh\necho pre \"\$@\" >> /tmp/hooks.log\n" > /etc/marsadm/hook-pre-pause-fetch
  printf "#!/bin/sh\necho post \"\$@\" >> /tmp/hooks.log\n" > /etc/marsadm/hook-post
  printf "#!/bin/sh\n[ \"\$1\" != resume-fetch ]\n" > /etc/marsadm/hook-pre.d/10-no-resume
  chmod +x /etc/marsadm/hook-pre-pause-fetch /etc/marsadm/hook-post /etc/marsadm/hook-pre.d/10-no-resume'
on $n 'marsadm pause-fetch r0 && marsadm view r0 >/dev/null' || fail "pause-fetch with hooks"
assert_eq "$(printf 'pre pause-fetch r0\npost pause-fetch r0')" "$(on $n 'cat /tmp/hooks.log')" "what the hooks saw"
expect_status 1 on $n 'marsadm resume-fetch r0'
assert_eq 0 "$(on $n 'readlink /mars/resource-r0/todo-node1/connect')" "fetch after a refusing pre hook"
on $n 'marsadm --force resume-fetch r0' || fail "resume-fetch --force despite the pre hook"
assert_eq 1 "$(on $n 'readlink /mars/resource-r0/todo-node1/connect')" "fetch after --force"
on $n 'rm -rf /etc/marsadm/hook-*'

step "delete-resource: refused while attached, then done"
out=$(on $n 'marsadm delete-resource r0' 2>&1) && fail "delete-resource succeeded while attached"
grep -q "still attached here: run marsadm down r0 first" <<<"$out" || fail "delete message: $out"
on $n 'marsadm down r0 && marsadm delete-resource r0'
expect_status 5 on $n 'marsadm view r0'
on $n 'ls /mars/resource-r0/log-* 2>/dev/null' && fail "logfiles left after delete-resource"
on $n 'marsadm create-resource r0 /dev/vdb >/dev/null' || fail "cannot create the resource again"
retry 30 on $n 'test -b /dev/mars/r0' || fail "re-created resource has no device"

step "clean up"
on $n 'rmmod mars && rm -rf /mars/*'
echo ok
