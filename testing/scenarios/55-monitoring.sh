#!/usr/bin/env bash
# Monitoring (docu/monitoring.md): `marsadm events --json` runs on node2 from before it
# joins r0 until the end; node2 syncs, replay is paused and resumed, node2 takes over
# (handover), then node1 takes over by force while node2 writes (split brain), node2 is
# invalidated. The primary sees its secondary (members: lag in bytes and seconds while
# node2's fetch is paused); under steady writes node2's disk state does not flap. The
# expected events appear in order. `marsadm metrics` of both nodes
# (secondary during the sync, primary and secondary at rest, both in the split brain)
# passes the host's `promtool check metrics`, and at rest its values and those of the
# view-* primitives (also through `view --macro`) equal `view --json`'s; `metrics --listen` answers over HTTP on the
# node's loopback, `metrics --output` leaves one complete file.
source "$(dirname "$0")/../lib.sh"
DISK=vda

OUT=$(mktemp -d)
evpid=
stop_events() {
  if [ -n "$evpid" ]; then
    kill "$evpid" 2>/dev/null || true
    wait "$evpid" 2>/dev/null || true
    evpid=
  fi
}
trap 'stop_events; tb net unshape node1 >/dev/null 2>&1; rm -rf "$OUT"' EXIT
command -v promtool >/dev/null || fail "promtool missing on the host (scripts/setup.sh installs Debian's prometheus)"

write_some() { on "$1" 'dd if=/dev/urandom of=/dev/mars/r0 bs=64k count='"$3"' seek='"$2"' oflag=direct status=none' || fail "write on $1"; }
# metrics NAME NODE: NODE's exposition into $OUT/NAME.prom, checked by promtool.
metrics() {
  on "$2" 'marsadm metrics' > "$OUT/$1.prom" || fail "marsadm metrics on $2"
  promtool check metrics < "$OUT/$1.prom" || fail "promtool rejects $1: $(cat "$OUT/$1.prom")"
  echo "$1: $(grep -vc '^#' "$OUT/$1.prom") samples, promtool: ok"
}

# against_view NODE: at rest, `view --json`, `metrics` and the view-* primitives of NODE
# taken together agree.
against_view() {
  on "$1" 'marsadm view --json r0; echo "#####"; marsadm metrics; echo "#####"
    for p in is-attach is-sync is-fetch is-replay is-primary is-secondary todo-attach todo-sync todo-fetch todo-replay \
        todo-primary todo-secondary is-split-brain is-emergency is-consistent is-orphan diskstate replstate rest-space \
        device-opened sync-rate fetch-rate replay-rate sync-rest fetch-rest replay-rest sync-remain fetch-remain \
        replay-remain sync-percent fetch-percent replay-percent alive-age get-disk get-device resource-members; do
      printf "%s=%s\n" $p "$(marsadm view-$p r0 | tr "\n" " " | sed "s/ $//")"; m="$m$p:%{$p}|"; done
    printf "my-resources=%s\n" "$(marsadm view-my-resources)"
    # The same values through view --macro (every view-<name> is variable <name>).
    printf "macro=%s\n" "$(marsadm view --macro "$m" r0 | tr "\n" " " | sed "s/ $//")"
    marsadm view --macro "%no-such-thing{}" r0 >/dev/null 2>&1; printf "macro-undefined=%s\n" $?
    printf "macro-language=%s\n" "$(marsadm view --macro "%if{%is-primary{}}{P}{S}:%{no-such-thing}:%let{n}{0}%foreach{h}{%resource-members{}}{\\n}{%let{n}{%+{%{n}}{1}}}%{n}:%human-numbers{}{}{}{%rest-space{}}" r0)"' > "$OUT/against-$1" || fail "view, metrics, primitives on $1"
  python3 - "$OUT/against-$1" "$1" "/dev/$DISK" <<'PY' || fail "metrics or primitives of $1 differ from view --json (above)"
import json, sys
view, prom, prims = open(sys.argv[1]).read().split("#####\n")
host, disk = sys.argv[2], sys.argv[3]
r = json.loads(view)["resources"][0]
m = {}
for line in prom.splitlines():
    if line and not line.startswith("#"):
        k, v = line.rsplit(" ", 1)
        m[k] = float(v)
p = dict(l.split("=", 1) for l in prims.splitlines() if "=" in l)
bad = []
def eq(what, want, got):
    if want != got:
        bad.append(f"{what}: view says {want!r}, got {got!r}")
def metric(name, want, **labels):
    key = name + "{" + ",".join(f'{k}="{v}"' for k, v in {"resource": "r0", **labels}.items()) + "}"
    eq(key, float(want), m.get(key))
metric("mars_resource_size_bytes", r["size"])
for fam, label, words in [("role", "role", ["Primary", "ForcedPrimary", "RemainsPrimary", "NotYetPrimary", "Secondary", "None"]),
                          ("diskstate", "diskstate", ["UpToDate", "Inconsistent", "Outdated[R]", "Detached", "WriteBack"]),
                          ("replstate", "replstate", ["Replicating", "Replaying", "Syncing", "PausedReplay", "NotStarted"])]:
    for w in words:
        metric("mars_resource_" + fam, r[fam] == w, **{label: w})
for name, field in [("attached", "is_attached"), ("device_up", "is_primary"), ("consistent", "is_consistent"),
                    ("forced_primary", "is_forced_primary"), ("sync_queued", "is_sync_queued"), ("device_openers", "open_count"),
                    ("error", "error"), ("writeback_rest_bytes", "writeback_rest"), ("sync_rest_bytes", "sync_rest"),
                    ("fetch_rest_bytes", "fetch_rest"), ("replay_rest_bytes", "replay_rest")]:
    metric("mars_resource_" + name, r[field])
metric("mars_resource_split_brain", r["split_brain"] is not None)
metric("mars_resource_replay_stopped", r["replay_stopped"] is not None)
metric("mars_resource_emergency", r["emergency"]["is_emergency"])
metric("mars_resource_actual_primaries", len(r["actual_primaries"]))
metric("mars_resource_designated_primary", 1, primary=r["primary"])
for w in ["sync", "fetch", "replay"]:
    metric(f"mars_resource_{w}_rate_bytes_per_second", r["rates"][w])
    metric("mars_resource_switch", r["switches"][w], work=w)
    metric("mars_resource_running", r["running"][w], work=w)
eq("mars_space_rest_bytes", float(r["emergency"]["rest_space"]), m.get("mars_space_rest_bytes"))
eq("mars_space_total_bytes", float(r["emergency"]["total_space"]), m.get("mars_space_total_bytes"))
b = lambda v: str(int(bool(v)))
want = {
    "is-attach": b(r["is_attached"]), "is-sync": b(r["running"]["sync"]), "is-fetch": b(r["running"]["fetch"]),
    "is-replay": b(r["running"]["replay"]), "is-primary": b(r["is_primary"]),
    "is-secondary": b(r["is_attached"] and not r["is_primary"]), "todo-attach": b(r["switches"]["attach"]),
    "todo-sync": b(r["switches"]["sync"]), "todo-fetch": b(r["switches"]["fetch"]), "todo-replay": b(r["switches"]["replay"]),
    "todo-primary": b(r["primary"] == host), "todo-secondary": b(r["primary"] != host),
    "is-split-brain": b(r["split_brain"]), "is-emergency": b(r["emergency"]["is_emergency"]),
    "is-consistent": b(r["is_consistent"]), "is-orphan": b(r["replstate"] == "Orphan"),
    "diskstate": r["diskstate"], "replstate": r["replstate"], "rest-space": str(r["emergency"]["rest_space"]),
    "device-opened": str(r["open_count"]), "get-disk": disk, "get-device": r["device"],
    "resource-members": "node1 node2", "my-resources": "r0",
}
for w in ["sync", "fetch", "replay"]:
    want[f"{w}-rate"] = str(r["rates"][w])
    want[f"{w}-rest"] = str(r[f"{w}_rest"])
    # At rest nothing is left: no time to go, everything done.
    want[f"{w}-remain"] = "0"
    want[f"{w}-percent"] = "100"
for k, v in want.items():
    eq("view-" + k, v, p.get(k))
# view --macro: the same value as view-<name> (alive-age may have moved on by a second).
for item in p.get("macro", "").split("|")[:-1]:
    k, v = item.split(":", 1)
    if k != "alive-age":
        eq(f"view --macro %{{{k}}}", p.get(k), v.strip())  # (lists end in a newline, as the original's)
eq("view --macro calling an unknown macro: exit", "2", p.get("macro-undefined"))
# The macro language (docu/view-macros.md): a condition on a primitive, an unset
# variable (empty, as in the original), a loop over the members, a human number.
role, _, count, space = p.get("macro-language", "").split(":", 3)
eq("%if{%is-primary{}}", "P" if want["is-primary"] == "1" else "S", role)
eq("members counted by %foreach", str(len(p.get("resource-members", "").split())), count)
if not space.endswith("B") or not space.split()[0].replace(".", "").isdigit():
    bad.append(f"%human-numbers of rest-space printed {space!r}")
if p.get("macro", "").count("|") < 30:
    bad.append(f"view --macro printed {p.get('macro')!r}")
age = int(p.get("alive-age", "-1"))
if not 0 <= age <= 10:
    bad.append(f"view-alive-age: {age}, expected 0..10 s")
if float(r["primary_age_ms"] or 0) / 1000 > 10:
    bad.append(f"primary_age_ms {r['primary_age_ms']}")
for x in bad:
    print(x)
print(f"{host}: {len(m)} samples and {len(p)} primitives checked against view --json: {len(bad)} differences")
sys.exit(1 if bad else 0)
PY
}

# nagios NODE [OPTIONS]: a monitoring check written as the original's contrib Nagios
# check is (global --macro with %name{} calls and %if, --window, view): its first word
# is OK, WARNING or CRITICAL. A secondary is OK when it has replayed all but --threshold
# of the log and hears its primary within --window; a primary when every other member
# fetches from it.
nagios() {
  local node=$1; shift
  on $node "marsadm --window=30 $* --macro='%if{%is-primary{}}{\
%if{%=={%nr-fetch{}}{%-{%count-resource-peers{}}{1}}}{OK}{WARNING}}{\
%if{%not{%is-alive{}}}{CRITICAL}{%if{%work-threshold-reached{}}{OK}{WARNING}}} \
%{res} %role{} %diskstate{} behind=%work-rest{} primary=%get-primary{} space=%rest-space{}' view r0"
}

# check_nagios NODE WORD [OPTIONS]: the check on NODE says WORD.
check_nagios() {
  local out; out=$(nagios "$1" "${@:3}") || fail "the nagios check on $1: $out"
  echo "$1: $out"
  [ "${out%% *}" = "$2" ] || fail "the nagios check on $1 says '$out', expected $2"
}

step "node1 creates r0 on $DISK with data; node2 joins the cluster; events on node2"
fresh_modules node1 node2
zero_disks "$DISK" node1 node2
create_r0 "/dev/$DISK"
write_some node1 0 256
join_cluster node2
tb exec node2 -- marsadm events --json --interval 250 > "$OUT/events" 2> "$OUT/events.err" &
evpid=$!
retry 30 grep -q '"event":"state"' "$OUT/events" || fail "no state event from node2: $(cat "$OUT/events.err")"
head -1 "$OUT/events"

step "node2 joins r0 and syncs; metrics during the sync"
on node2 "marsadm join-resource r0 /dev/$DISK >/dev/null" || fail "join-resource on node2"
retry 30 grep -q '"sync-started"' "$OUT/events" || fail "no sync-started event: $(cat "$OUT/events")"
metrics sync-node2 node2
metrics sync-node1 node1
grep -E '^mars_resource_(replstate|diskstate)\{.*\} 1$' "$OUT/sync-node2.prom"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
write_some node1 300 16
retry 60 caught_up node1 node2 || fail "node2 does not follow node1"
sleep 3 # the rates' averages fall to 0

step "at rest: metrics and view-* primitives equal view --json on both nodes"
metrics rest-node1 node1
metrics rest-node2 node2
against_view node1
against_view node2

step "a Nagios-style check and .tpl overrides, healthy"
check_nagios node1 OK
check_nagios node2 OK
# The shipped macros, written out by dump-macros, give view's resource line unchanged;
# an edited one changes what view prints.
line() { on node2 "$1 marsadm view r0" | grep '^  r0 \['; }
on node2 'rm -rf /tmp/tpl && mkdir /tmp/tpl && cd /tmp/tpl && marsadm dump-macros >/dev/null && ls | wc -l' | grep -qx 39 || fail "dump-macros did not write 39 files"
assert_eq "$(line '')" "$(line 'MARS_PATH=/tmp/tpl')" "view with the dumped macros"
on node2 'echo "%{res}-flags\\" > /tmp/tpl/flags.tpl'
line 'MARS_PATH=/tmp/tpl' | grep -q ' r0-flags ' || fail "flags.tpl does not change view: $(line 'MARS_PATH=/tmp/tpl')"
assert_eq r0-flags "$(on node2 'MARS_PATH=/tmp/tpl marsadm view-flags r0')" "view-flags with flags.tpl"
line '' | grep -q ' r0-flags ' && fail "flags.tpl is used without MARS_PATH"
# The original's primitives by name, with their arguments; one without a meaning here.
assert_eq "2 1 1 0 node1" "$(on node2 'echo $(marsadm view-count-resource-peers r0) $(marsadm view-is-alive r0 node1) $(marsadm view-work-reached r0) $(marsadm view-is-primary r0) $(marsadm view-actual-primary r0)')" "primitives on node2"
out=$(on node2 'marsadm view-device-error r0 2>&1'; echo "exit $?")
grep -q 'not applicable in this implementation' <<<"$out" && grep -q 'exit 2' <<<"$out" || fail "view-device-error: $out"
# Values as JSON, options after a view-<primitive> word taken as global ones.
on node2 'marsadm view-is-alive r0 node1 --window=30 --json; marsadm view-state r0 --json; marsadm state r0 --json' > "$OUT/values.json" || fail "view-* --json"
python3 - "$OUT/values.json" <<'PY' || fail "view-* --json: $(cat "$OUT/values.json")"
import json, sys
a, b, c = (json.loads(l) for l in open(sys.argv[1]))
assert (a["schema_version"], a["host"], a["name"], a["values"]) == (1, "node2", "is-alive", [{"resource": "r0", "value": "1"}]), a
assert b["values"][0]["value"] == "UpToDate Replaying" and c["values"][0]["value"] == "UpToDate Replaying", (b, c)
PY
# --host: node2's role as node1's links show it.
assert_eq Secondary "$(on node1 'marsadm --host=node2 view-role r0 2>/dev/null')" "view-role as node2 on node1"

step "the primary sees its secondary: behind in bytes and seconds while node2's fetch is paused"
on node2 'marsadm set-rpo r0 1 >/dev/null && marsadm pause-fetch r0 >/dev/null' || fail "set-rpo, pause-fetch on node2"
write_some node1 400 16
# members_on_node1 CHECK: node1's view --json, with r (the resource) and m (its members
# by host), passes the python assertion CHECK.
members_on_node1() {
  on node1 'marsadm view --json r0' | python3 -c 'import json, sys
r = json.load(sys.stdin)["resources"][0]
m = {x["host"]: x for x in r["members"]}
'"$1"
}
behind='assert r["replstate"] == "NoSecondaryConnected", r["replstate"]
n2 = m["node2"]
assert n2["reachable"] and not n2["fetching"] and n2["diskstate"] == "Outdated", n2
assert n2["lag_bytes"] >= 16 * 65536 and n2["lag_seconds"] >= 2, n2
assert r["rpo_seconds"] == 1 and n2["beyond_rpo"], (r["rpo_seconds"], n2)
assert m["node1"]["role"] == "Primary" and m["node1"]["lag_bytes"] is None, m'
retry 30 members_on_node1 "$behind" || fail "node1's view of node2 while its fetch is paused: $(on node1 'marsadm view r0')"
on node1 'marsadm view r0' | grep "member node2: Secondary Outdated, behind .* s), heard .*, BEYOND THE RPO" || fail "view's member line on node1: $(on node1 'marsadm view r0')"
on node1 'marsadm view r0' | grep -q "^node2 rpo: .* BEYOND THE RPO" || fail "view's warnings on node1: $(on node1 'marsadm view r0')"
# Degraded: node2 does not fetch, 1 MiB behind.
check_nagios node1 WARNING
check_nagios node2 WARNING --threshold=64k
check_nagios node2 OK --threshold=100M
on node1 'marsadm metrics' | grep -x 'mars_member_beyond_rpo{resource="r0",member="node2"} 1' || fail "no beyond-rpo metric on node1"
on node1 'marsadm metrics' | grep -E '^mars_member_lag_seconds\{resource="r0",member="node2"\} [0-9.]+$' || fail "no member lag metric on node1"
on node2 'marsadm resume-fetch r0 >/dev/null'
retry 60 caught_up node1 node2 || fail "node2 does not catch up after resume-fetch"
caught='assert r["replstate"] == "Replicating", r["replstate"]
assert (m["node2"]["diskstate"], m["node2"]["lag_bytes"], m["node2"]["lag_seconds"], m["node2"]["beyond_rpo"]) == ("UpToDate", 0, 0, False), m["node2"]'
retry 30 members_on_node1 "$caught" || fail "node1's view of node2 once caught up: $(on node1 'marsadm view r0')"
on node1 'marsadm set-rpo r0 0 >/dev/null' || fail "set-rpo 0"
retry 20 members_on_node1 'assert r["rpo_seconds"] is None, r' || fail "the objective is not gone"

step "steady writes on node1: node2's disk state stays UpToDate (no flapping)"
diskstate_events() { grep -c '"event":"diskstate"' "$OUT/events"; }
before=$(diskstate_events)
# (1 MiB ten times a second: some of it is always in flight to node2.)
on node1 'i=0; end=$(($(date +%s) + 15)); while [ "$(date +%s)" -lt $end ]; do
    dd if=/dev/urandom of=/dev/mars/r0 bs=1M count=1 seek=$((20 + i % 8)) oflag=direct status=none || exit 1
    i=$((i + 1)); sleep 0.1; done; echo "$i writes of 1 MiB"; [ $i -ge 20 ]' || fail "steady writer on node1"
retry 60 caught_up node1 node2 || fail "node2 does not keep up"
sleep 2
assert_eq "$before" "$(diskstate_events)" "diskstate events of node2 during steady writes ($(grep '"event":"diskstate"' "$OUT/events" | tail -4 | tr '\n' ' '))"

step "steady writes over a slow link: node2 stays UpToDate while some of the log is in flight"
# 100 ms and 8 Mbit/s from node1, 2 MiB written every 2 s (each burst takes about two
# seconds to cross): node2 is often a little behind, within the 10 s that UpToDate
# allows. Sampled on node2 meanwhile: at least
# some samples must have a rest to fetch or replay (else this checks nothing), and all
# must say UpToDate.
tb net shape node1 --delay 100 --rate 8000
on node1 'i=0; end=$(($(date +%s) + 20)); while [ "$(date +%s)" -lt $end ]; do
    dd if=/dev/urandom of=/dev/mars/r0 bs=1M count=2 seek=$((40 + 2 * (i % 8))) oflag=direct status=none || exit 1
    i=$((i + 1)); sleep 2; done' > "$OUT/slow-writer" 2>&1 &
writer=$!
on node2 'end=$(($(date +%s) + 18)); while [ "$(date +%s)" -lt $end ]; do
    echo "$(marsadm view-diskstate r0) $(($(marsadm view-fetch-rest r0) + $(marsadm view-replay-rest r0)))"
    sleep 0.3; done' > "$OUT/slow-samples" || fail "sampling on node2"
wait $writer || fail "slow writer on node1: $(cat "$OUT/slow-writer")"
tb net unshape node1
behind=$(awk '$2 > 0' "$OUT/slow-samples" | wc -l)
echo "$(wc -l < "$OUT/slow-samples") samples, $behind with a rest; disk states: $(cut -d' ' -f1 "$OUT/slow-samples" | sort | uniq -c | xargs)"
[ "$behind" -ge 3 ] || fail "node2 was never behind: the step checks nothing ($(tr '\n' ' ' < "$OUT/slow-samples"))"
[ "$(cut -d' ' -f1 "$OUT/slow-samples" | sort -u)" = UpToDate ] || fail "node2's disk state left UpToDate: $(tr '\n' ' ' < "$OUT/slow-samples")"
retry 60 caught_up node1 node2 || fail "node2 does not catch up after the slow writes"

step "metrics --listen on node2's loopback; metrics --output"
http=$(cat <<'SH'
marsadm metrics --listen 127.0.0.1:9775 2> /tmp/listen.err & p=$!
i=0; until grep -q serving /tmp/listen.err; do sleep 0.2; i=$((i + 1)); [ $i -lt 100 ] || { cat /tmp/listen.err; exit 1; }; done
get() { exec 3<>/dev/tcp/127.0.0.1/9775 && printf 'GET %s HTTP/1.0\r\nHost: x\r\n\r\n' "$1" >&3 && cat <&3; exec 3<&-; }
get /metrics > /tmp/http-metrics; get /nope > /tmp/http-404
kill $p; wait $p 2>/dev/null
cat /tmp/http-metrics; echo "#####"; cat /tmp/http-404
SH
)
tb exec node2 -- bash -c "$http" > "$OUT/http" || fail "metrics --listen on node2: $(cat "$OUT/http")"
python3 - "$OUT/http" "$OUT/listen.prom" <<'PY' || fail "HTTP answers of metrics --listen (above)"
import sys
ok, missing = open(sys.argv[1], newline="").read().split("#####\n")
head, body = ok.split("\r\n\r\n", 1)
print(head.replace("\r", ""))
assert head.startswith("HTTP/1.0 200 OK"), head
assert "Content-Type: text/plain; version=0.0.4; charset=utf-8" in head, head
assert f"Content-Length: {len(body.encode())}" in head, head
assert 'mars_resource_role{resource="r0",role="Secondary"} 1' in body, body
assert missing.startswith("HTTP/1.0 404"), missing
open(sys.argv[2], "w").write(body)
PY
promtool check metrics < "$OUT/listen.prom" || fail "promtool rejects the HTTP answer"
on node2 'mkdir -p /tmp/tf && marsadm metrics --output /tmp/tf/mars.prom && marsadm metrics --output /tmp/tf/mars.prom && ls -a /tmp/tf' > "$OUT/tf" || fail "metrics --output"
assert_eq ". .. mars.prom" "$(xargs < "$OUT/tf")" "files in the textfile directory"
on node2 'cat /tmp/tf/mars.prom' | promtool check metrics || fail "promtool rejects the --output file"
expect_status 8 on node2 'marsadm metrics --output /nonexistent/dir/mars.prom'

step "pause and resume replay on node2"
on node2 'marsadm pause-replay r0 >/dev/null'
retry 20 grep -q '"new":"PausedReplay"' "$OUT/events" || fail "no PausedReplay event"
retry 20 grep -q '"replay-finished"' "$OUT/events" || fail "no replay-finished event"
on node2 'marsadm resume-replay r0 >/dev/null'
retry 20 grep -q '"old":"PausedReplay","new":"Replaying"' "$OUT/events" || fail "no Replaying event after resume"

step "handover to node2"
on node2 'marsadm primary r0' || fail "handover to node2: $(on node2 'marsadm view r0')"
retry 30 grep -q '"event":"role","old":"[A-Za-z]*","new":"Primary"' "$OUT/events" || fail "no role Primary event: $(tail "$OUT/events")"
write_some node2 100 16
retry 60 caught_up node2 node1 || fail "node1 does not follow node2"
sleep 3
against_view node2
metrics primary-node2 node2
metrics secondary-node1 node1

step "split brain: node1 takes over by force while node2 writes"
on node2 'rm -f /tmp/stop-writer; exec 3<>/dev/mars/r0; i=0
  while [ ! -e /tmp/stop-writer ]; do
    dd if=/dev/urandom of=/dev/mars/r0 bs=64k count=1 seek=$((i % 900)) oflag=direct conv=notrunc status=none || exit 1
    i=$((i + 1)); done' &
writer=$!
retry 20 on node2 'test "$(readlink /mars/resource-r0/actual-node2/open-count)" -gt 0' || fail "writer on node2 did not start"
on node1 'marsadm pause-fetch r0 >/dev/null && marsadm primary --force r0 >/dev/null' || fail "primary --force on node1"
write_some node1 500 8
for n in node1 node2; do
  retry 30 on $n 'test "$(marsadm view-is-split-brain r0)" = 1' || fail "no split brain shown on $n: $(on $n 'marsadm view r0')"
done
retry 20 grep -q '"event":"split-brain","old":false,"new":true' "$OUT/events" || fail "no split-brain event"
# (node2 counts node1's bytes once it has node1's version links: it pulls node1's tree
# about every 2 s, so they can come after the split is shown)
bytes_after_shown() {
  metrics "split-$1" "$1" &&
    grep -q '^mars_resource_split_brain_bytes_after{resource="r0",peer="node1"} [1-9]' "$OUT/split-$1.prom"
}
for n in node1 node2; do
  retry 30 bytes_after_shown $n || fail "no bytes after the split on $n: $(grep split_brain "$OUT/split-$n.prom" | tr '\n' ';')"
  grep -qx 'mars_resource_split_brain{resource="r0"} 1' "$OUT/split-$n.prom" || fail "metrics of $n show no split brain"
done

step "node2's version is discarded (invalidate)"
on node2 'touch /tmp/stop-writer'
wait "$writer" || fail "writer on node2 failed"
retry 60 on node2 'test "$(readlink /mars/resource-r0/actual-node2/is-primary)" = 0' || fail "node2 did not leave the primary role"
retry 30 on node2 'dmesg | grep -q "replay stopped"' || fail "node2's replay did not stop at the split"
on node2 'marsadm invalidate r0' || fail "invalidate on node2"
on node2 'marsadm wait-resource r0 --until uptodate --timeout 120' || fail "node2 not UpToDate after invalidate"
retry 30 grep -q '"event":"split-brain","old":true,"new":false' "$OUT/events" || fail "no split-brain end event"
stop_events

step "the events on node2, in order"
python3 - "$OUT/events" <<'PY' || fail "events on node2 (above)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
seen = []  # [(time, word)]: the events of one look at the tree share their time
for e in lines:
    assert e["schema_version"] == 1 and e["host"] == "node2" and e["resource"] == "r0", e
    assert e["time"].endswith("Z"), e
    word = e["event"] + ("" if "new" not in e else ":" + json.dumps(e["new"]).strip('"'))
    seen.append((e["time"], word))
    print(e["time"], word if "old" not in e else f'{e["event"]}: {json.dumps(e["old"])} -> {json.dumps(e["new"])}')
first = lines[0]
assert first["event"] == "state" and first["state"]["role"] == "None", first
# The expected events, in this order (others may come between), but in any order among
# the events of one look (one time): the sync ends (the module stops it) before or when
# replay has passed the sync's end, and then the disk is UpToDate. A set is a group of
# events in any order, in one look or several: node2 merges node1's listing entry by
# entry, so a look can see node1's new version link (split brain) before its primary link.
# node1, the other member, leaves the primary role before node2 takes over; node2 may see
# that in a look before or after its own role changes. A look reads the links one after
# the other while the module writes them: it can see the sync running (is-syncing) before
# the disk attached (is-attached, written just before it in the same round).
expected = ["state", {"role:Secondary", "sync-started"}, "sync-finished", "diskstate:UpToDate", "replstate:PausedReplay",
            "replay-finished", "replstate:Replaying", "replay-started", "primary:node2", {"role:Primary", "member-role:Secondary"},
            "replstate:Replicating", {"primary:node1", "split-brain:true"}, "role:Secondary", "split-brain:false"]
expected = [w if isinstance(w, set) else {w} for w in expected]
at, left = 0, set(expected[0])
for t in dict.fromkeys(t for t, _ in seen):
    group = [w for u, w in seen if u == t]
    while at < len(expected) and left & set(group):
        for w in left & set(group):
            group.remove(w)
            left.remove(w)
        if not left:
            at += 1
            left = set(expected[at]) if at < len(expected) else set()
if at < len(expected):
    sys.exit(f"missing or out of order: {sorted(left)} (after {expected[:at]})")
print(f"{len(lines)} events, the {len(expected)} expected ones in order")
PY

step "clean up"
for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
