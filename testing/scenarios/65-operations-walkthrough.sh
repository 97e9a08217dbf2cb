#!/usr/bin/env bash
# docu/operations.md as written: every `alpha#` and `bravo#` command of the page, in
# its order, on two Debian nodes with the packages (alpha is node1, bravo node2,
# /dev/vg0/db their /dev/vdb), with the page's application template and a stand-in for
# its db-app. Between the steps the scenario checks what the page says happens, and
# makes happen what the page assumes (step 8: datacenter B is cut off while bravo's
# application writes, so alpha lacks some of bravo's writes: a split brain when
# the network is back). A command the page adds or changes runs here too; the count of
# commands run is checked against the page.
# testbed-image: debian
source "$(dirname "$0")/../lib.sh"
source "$TESTING/systemd-lib.sh"

PAGE=$TESTING/../docu/operations.md
APP_TEMPLATE='db-app-@escvar{res}.service'
cleanup() {
  tb net heal node1 node2 >/dev/null 2>&1 || true
  for n in node1 node2; do
    $TB exec $n -- sh -c "systemctl stop db-app-db.service mnt-mars-db.mount; rm -f '/etc/mars/systemd-templates/$APP_TEMPLATE' /usr/local/bin/db-app
      systemctl disable mars.service mars-cron.timer; sync" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

# The page's commands, "HOST<tab>COMMAND" a line, in order: each indented `alpha# ` or
# `bravo# ` line, the names mapped to the testbed's.
commands=$(sed -n 's/^    \(alpha\|bravo\)# \(.*\)$/\1\t\2/p' "$PAGE" |
  sed 's/\balpha\b/node1/g; s/\bbravo\b/node2/g; s|/dev/vg0/db|/dev/vdb|g')
total=$(wc -l <<<"$commands")
[ "$total" -ge 15 ] || fail "only $total commands found in $PAGE"
done_count=0

# run_until PATTERN: runs the page's next commands up to and including the first one
# matching PATTERN (a grep -E on "HOST<tab>COMMAND").
run_until() {
  local line host cmd
  while [ "$done_count" -lt "$total" ]; do
    line=$(sed -n "$((done_count + 1))p" <<<"$commands")
    host=${line%%$'\t'*}
    cmd=${line#*$'\t'}
    done_count=$((done_count + 1))
    echo "$host# $cmd"
    case "$cmd" in
      scp\ /mars/cluster.key\ node2:/root/cluster.key*)
        # No ssh between the nodes: the testbed carries the file (a channel we trust).
        on "$host" 'cat /mars/cluster.key' | on node2 'cat > /root/cluster.key && chmod 600 /root/cluster.key' || fail "copying the secret" ;;
      *) on "$host" "$cmd" || fail "$host# $cmd (command $done_count of $total in $PAGE)" ;;
    esac
    grep -qE "$1" <<<"$line" && return 0
  done
  fail "no command matching '$1' left in $PAGE"
}

install_mars node1 node2
sd_fresh node1 node2
zero_disks vdb node1 node2

step "2. mars.service and mars-cron.timer enabled (both hosts)"
for n in node1 node2; do
  on $n 'systemctl enable --now mars.service mars-cron.timer' || fail "enable on $n"
done

step "3. the cluster"
run_until 'marsadm wait-cluster'
step "4. the resource"
run_until 'wait-resource db --until uptodate'
assert_eq "UpToDate" "$(on node2 'marsadm view-diskstate db')" "bravo's disk state"

step "5. the application under systemd: the page's template, a stand-in db-app"
template=$(sed -n "/^    # \/etc\/mars\/systemd-templates\/db-app-@escvar{res}.service/,/^\$/p" "$PAGE" | sed 's/^    //')
[ -n "$template" ] || fail "no application template in $PAGE"
for n in node1 node2; do
  on $n "cat > '/etc/mars/systemd-templates/$APP_TEMPLATE'" <<<"$template" || fail "template on $n"
  on $n "printf '#!/bin/sh\n# db-app --data DIR: appends a line to DIR/app.log twice a second\nwhile :; do echo \"\$(hostname) \$(date +%%s.%%N)\" >> \"\$2/app.log\"; sync; sleep 0.5; done\n' > /usr/local/bin/db-app && chmod 755 /usr/local/bin/db-app" ||
    fail "db-app on $n"
done
run_until 'set-systemd-unit db'
writes() { on "$1" "grep -c '^$1 ' /mnt/mars/db/app.log" || echo 0; }
app_runs() { # app_runs NODE: the application and its mount are active on NODE and it writes
  local a
  retry 60 active "$1" db-app-db.service || fail "$1: db-app-db.service not active: $(on "$1" 'systemctl status --no-pager db-app-db.service mnt-mars-db.mount' || true)"
  active "$1" mnt-mars-db.mount || fail "$1: mnt-mars-db.mount not active"
  a=$(writes "$1"); sleep 2
  [ "$(writes "$1")" -gt "$a" ] || fail "$1: db-app does not write"
}
app_stopped() { ! active "$1" db-app-db.service && ! active "$1" mnt-mars-db.mount; }
app_off() { app_stopped "$1" || fail "$1: the application runs"; }
app_runs node1
app_off node2

step "7. planned handover to bravo"
run_until '^node2.marsadm primary db$'
app_runs node2
app_off node1
retry 30 on node2 "test \$(grep -c '^node1 ' /mnt/mars/db/app.log) -gt 0" || fail "alpha's writes are not on bravo"

step "8. datacenter B is cut off while bravo writes; alpha fails over"
# (The page's second case, a partition: bravo keeps running. Its first, a crash, is
# scenario 52's; a reboot here would double this scenario's time.)
tb net cut node1 node2
sleep 3 # bravo's application writes what alpha will never fetch
run_until 'primary --force db'
app_runs node1

step "8. the network is back: bravo's trigger stops its units; a split brain"
tb net heal node1 node2
on node2 'marsadm wait-cluster --timeout 60' || fail "bravo does not hear alpha"
retry 60 app_stopped node2 || fail "bravo's application still runs: $(on node2 'marsadm view db')"
retry 30 on node2 'test "$(marsadm view-is-split-brain db)" = 1' || fail "no split brain shown on bravo: $(on node2 'marsadm view db')"
run_until 'marsadm invalidate db'
# On a terminal (script(1) gives it one) the progress line is rewritten in place, with
# the rate and the time left once they are known.
on node2 "script -qec 'marsadm wait-resource db --until uptodate --timeout 600' /tmp/tty.log >/dev/null" ||
  fail "bravo not UpToDate after invalidate: $(on node2 'marsadm view db')"
# (rewrites: the line's versions, each after a carriage return and an erase-line.)
rewrites=$(on node2 "tr '\\r' '\\n' < /tmp/tty.log | grep -c \"^\$(printf '\\033')\\[Kwaiting: db: full sync: \"" || true)
on node2 "tr '\\r' '\\n' < /tmp/tty.log | grep 'to go' | tail -3"
[ "${rewrites:-0}" -ge 3 ] && on node2 "tr '\\r' '\\n' < /tmp/tty.log | grep -q 'full sync: .* to go, .*/s, ..:..:.. left'" ||
  fail "no progress line rewritten in place (${rewrites:-0} versions): $(on node2 'cat -v /tmp/tty.log | tail -c 600')"
assert_eq 0 "$(on node2 'marsadm view-is-split-brain db')" "split brain on bravo after invalidate"
app_runs node1
app_off node2

assert_eq "$total" "$done_count" "commands of $PAGE run"
echo ok
