# Helpers for the systemd scenarios 51-53 (sourced after lib.sh): Debian nodes with
# systemd as PID 1 (testbed-image: debian), MARS installed from the packages.
TOP=$(cd "$TESTING/.." && pwd)
DEBS=$TOP/build/deb
UNITS="mnt-mars-r0.mount mars-writer-r0.service"

# install_mars NODE...: the test writer's template into /etc/mars/systemd-templates
# (where an administrator's own templates go), then the packages of `make deb`
# (mars-tools, mars-module-<release> for the node's kernel, Debian's stock kernel
# installed from its package) with `apt install ./...deb`, as a Debian 13 user installs
# them (docu/install.md), so these scenarios test them; mars-tools' postinst reloads
# systemd. Skipped where the same
# package files are installed already (an earlier scenario since the nodes booted).
install_mars() { on_nodes install_mars_on "$@"; }
install_mars_on() {
  local n=$1 f release tools module state failed u sums
  # The node image first (docu/testbed.md "Images"): systemd is PID 1, the boot ended
  # with no failed unit of the image's (MARS's own units are the scenarios' to judge:
  # an earlier scenario on these nodes may have left one failed), and the node has the
  # busybox nodes' identity.
  [ "$(on "$n" 'cat /proc/1/comm')" = systemd ] || fail "$n: PID 1 is not systemd"
  state=$(on "$n" 'systemctl is-system-running' || true)
  failed=$(on "$n" 'systemctl list-units --failed --plain --no-legend --no-pager' | awk '$1 !~ /^mars-/ { print $1 }' | tr '\n' ' ')
  case "$state" in running | degraded) ;; *) fail "$n: system state '$state' (failed units: ${failed:-none})" ;; esac
  [ -z "$failed" ] || fail "$n: failed units: $failed"
  # One unit per call: is-active with several succeeds when any one is active.
  for u in testbed-agent.service mars-node-setup.service mars.mount; do
    on "$n" "systemctl is-active --quiet $u" || fail "$n: $u not active"
  done
  [ "$(on "$n" hostname)" = "$n" ] || fail "$n: hostname $(on "$n" hostname)"
  on "$n" 'grep -q "^/dev/vdc /mars ext4 " /proc/mounts' || fail "$n: /dev/vdc not mounted on /mars as ext4"
  on "$n" 'ip -4 -o addr show dev repl0' | grep -q "10.77.0.${n#node}/24" || fail "$n: wrong replication address"
  tools=$(ls "$DEBS"/mars-tools_*_amd64.deb 2>/dev/null | head -1)
  [ -n "$tools" ] || fail "no mars-tools package in $DEBS: run make"
  release=$(on "$n" 'uname -r')
  module=$(ls "$DEBS"/mars-module-"$release"_*_amd64.deb 2>/dev/null | head -1)
  [ -n "$module" ] || fail "no mars-module-$release package in $DEBS: run make"
  on "$n" 'mkdir -p /etc/mars/systemd-templates'
  for f in "$TESTING"/systemd/*; do
    tb push "$n" "$f" "/etc/mars/systemd-templates/$(basename "$f")" >/dev/null || fail "push $f to $n"
  done
  # Once per node boot: a later scenario on the same nodes finds these very packages
  # installed (installing and its daemon-reload cost a minute of emulated CPU per node).
  sums=$(cat "$tools" "$module" | sha256sum | cut -d' ' -f1)
  if [ "$(on "$n" 'cat /root/mars-debs.sha256 2>/dev/null' || true)" = "$sums" ] &&
    on "$n" 'test "$(dpkg-query -W -f "\${Status}\n" mars-tools "mars-module-$(uname -r)" 2>/dev/null | grep -c "install ok installed")" = 2'; then
    echo "$n: these packages are installed already ($(basename "$tools"), $(basename "$module"))"
  else
    tb push "$n" "$tools" /root/mars-tools.deb >/dev/null || fail "push $tools to $n"
    tb push "$n" "$module" /root/mars-module.deb >/dev/null || fail "push $module to $n"
    # (No package lists on the node and no network: apt takes what is installed; the
    # module's dependency on exactly this linux-image package must be met by it.)
    on "$n" 'cd /root && DEBIAN_FRONTEND=noninteractive apt-get install -y ./mars-tools.deb ./mars-module.deb >/root/apt.log 2>&1' ||
      fail "apt install on $n: $(on "$n" 'cat /root/apt.log')"
    on "$n" "echo $sums > /root/mars-debs.sha256"
  fi
  on "$n" 'test "$(command -v marsadm)" = /usr/sbin/marsadm && modinfo -n mars | grep -q "/extra/mars.ko$"' ||
    fail "$n: marsadm or mars.ko not from the packages"
}

# sd_fresh NODE...: no MARS units running, no instances, mars.service restarted with
# an empty /mars (so the module is freshly loaded and mars-trigger.path watches).
sd_fresh() { on_nodes sd_fresh_on "$@"; }
sd_fresh_on() {
  local n=$1
  on "$n" "systemctl stop $UNITS 2>/dev/null; umount /mnt/r0 2>/dev/null
    systemctl stop mars.service mars-trigger.path; rmmod mars 2>/dev/null
    gen=\$(grep -l '^# X-MARS-Generated-From: ' /run/systemd/system/* 2>/dev/null)
    rm -rf /mars/*; if [ -n \"\$gen\" ]; then rm -f \$gen; systemctl daemon-reload; fi; systemctl reset-failed
    systemctl start mars.service" || fail "fresh start of mars.service on $n"
  on "$n" 'systemctl is-active --quiet mars.service && systemctl is-active --quiet mars-trigger.path && test -d /proc/sys/mars' ||
    fail "$n: mars.service or mars-trigger.path not active"
}

# active NODE UNIT: UNIT is active on NODE.
active() { on "$1" "systemctl is-active --quiet $2"; }

# units_on NODE: mount and writer run on NODE, and NODE's writer appends to the log.
units_on() {
  local n=$1 a b
  retry 60 active "$n" mars-writer-r0.service || fail "$n: writer not active: $(on "$n" 'systemctl status --no-pager mnt-mars-r0.mount mars-writer-r0.service; journalctl -b --no-pager -u mars-trigger.service | tail -20' || true)"
  active "$n" mnt-mars-r0.mount || fail "$n: mount not active"
  a=$(on "$n" 'grep -c "^'"$n"' " /mnt/mars/r0/writer.log' || true)
  sleep 3
  b=$(on "$n" 'grep -c "^'"$n"' " /mnt/mars/r0/writer.log' || true)
  [ "${b:-0}" -gt "${a:-0}" ] || fail "$n: the writer does not write ($a, then $b lines)"
  echo "$n: mount and writer active, $b lines from $n"
}

# units_off NODE: neither mount nor writer is active on NODE.
units_off() {
  local u
  for u in $UNITS; do
    ! active "$1" "$u" || fail "$1: $u is active"
  done
}

# setup_r0: node1 creates r0 (xfs), node2 joins and is UpToDate, both have the
# instances; node1 runs the units after set-systemd-unit.
setup_r0() {
  sd_fresh node1 node2
  zero_disks vdb node1 node2
  step "create-resource on node1, mkfs.xfs, join-resource on node2"
  on node1 'marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vdb >/dev/null' || fail "create on node1"
  on node1 'marsadm wait-resource r0 --until primary --timeout 30' || fail "node1 did not become primary of r0"
  # The package's udev rule, under the node's real udev (devtmpfs alone: root:root).
  retry 10 on node1 'test "$(stat -c "%a %U:%G" /dev/mars/r0)" = "600 root:disk"' ||
    fail "/dev/mars/r0 is $(on node1 'stat -c "%a %U:%G" /dev/mars/r0'), not 600 root:disk (udev rule 60-mars.rules)"
  on node1 'mkfs.xfs -q -f /dev/mars/r0' || fail "mkfs.xfs on node1"
  join_cluster node2
  on node2 'marsadm join-resource r0 /dev/vdb' || fail "join-resource on node2"
  # Both disks were zeroed: no sync needed (replicated_r0 in lib.sh says why).
  on node2 'marsadm fake-sync r0 >/dev/null' || fail "fake-sync on node2"
  for n in node1 node2; do
    for u in $UNITS; do
      on $n "grep -q '^# X-MARS-Generated-From: ' /run/systemd/system/$u" || fail "$n: no instance $u after create/join"
    done
  done
  on node1 'grep -q "^What=/dev/mars/r0$" /run/systemd/system/mnt-mars-r0.mount' || fail "mount instance: $(on node1 'cat /run/systemd/system/mnt-mars-r0.mount')"
  step "set-systemd-unit on node1: refused for a unit no template made, then writer + mount"
  expect_status 1 on node1 'marsadm set-systemd-unit r0 reboot.target'
  expect_status 1 on node1 'marsadm set-systemd-unit r0 "x.service;reboot"'
  on node1 'marsadm set-systemd-unit r0 "mars-writer-@escvar{res}.service" "mnt-mars-@escvar{res}.mount"' || fail "set-systemd-unit"
  units_on node1
  retry 30 sh -c "[ \"\$($TB exec node2 -- marsadm get-systemd-unit r0)\" = 'mars-writer-r0.service mnt-mars-r0.mount' ]" ||
    fail "node2 does not show the units: $(on node2 'marsadm get-systemd-unit r0')"
  on node2 'marsadm get-systemd-unit --json r0' | grep -q '"stop_unit": "mnt-mars-r0.mount"' || fail "get-systemd-unit --json"
  units_off node2
  on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"
}

# sd_cleanup: no units, no module activity left for the next scenario.
sd_cleanup() {
  local n
  for n in node1 node2; do
    on $n "marsadm set-systemd-unit r0 '' >/dev/null 2>&1; systemctl stop $UNITS; systemctl disable mars.service mars-cron.timer 2>/dev/null; true"
  done
  for n in node1 node2; do
    on $n "systemctl stop mars.service mars-trigger.path; rmmod mars 2>/dev/null; rm -rf /mars/*; true"
  done
}
