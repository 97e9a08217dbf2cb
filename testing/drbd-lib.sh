# DRBD 8.4 in the testbed, for `make bench` (scripts/bench-lib.sh) and the migration
# scenario (testing/scenarios/64-migrate-from-drbd.sh). Expects `on NODE CMD...`.

# drbd_wait NODE SECONDS WHAT CMD: until CMD succeeds in NODE; fails loudly after SECONDS.
drbd_wait() {
  local n=$1 secs=$2 what=$3 cmd=$4 t0
  t0=$(date +%s)
  until on "$n" "$cmd" >/dev/null 2>&1; do
    if (( $(date +%s) - t0 > secs )); then echo "$n: no $what after $secs s" >&2; return 1; fi
    sleep 0.5
  done
}

# DRBD 8.4 (built into the nodes' kernel) with Debian's drbd-utils 9 in the image.
# drbdadm runs its 8.4 helpers from /lib/drbd (in the image they are in /usr/lib/drbd,
# and /lib is a real directory) and needs /var/lock, /var/lib/drbd and /var/run/drbd.
drbd_prepare() { # drbd_prepare NODE PROTOCOL [DISK]: /etc/drbd.conf of r0 on DISK (default /dev/vdb)
  on "$1" "ln -sfn /usr/lib/drbd /lib/drbd && mkdir -p /var/lock /var/lib/drbd /var/run/drbd && cat > /etc/drbd.conf <<'EOF'
global { usage-count no; }
resource r0 {
  net { protocol $2; ping-timeout 50; timeout 90; }
  device /dev/drbd0;
  disk ${3:-/dev/vdb};
  meta-disk internal;
  on node1 { address 10.77.0.1:7789; }
  on node2 { address 10.77.0.2:7789; }
}
EOF"
}
# Defaults but for the two timeouts: with the shaped link's full send queue (seconds of
# queueing delay) the default 0.5 s ping-timeout and 6 s timeout drop the connection,
# and DRBD then writes without waiting for the network; 5 s and 9 s (which must stay
# below connect-int and ping-int, 10 s) keep it up, as one would set for a long link.
# drbd_up PROTOCOL: r0 on node1 (primary) and node2, UpToDate on both without the initial
# sync: fresh metadata on both, connect, then `new-current-uuid --clear-bitmap` while
# both are Connected Secondary/Inconsistent (8.4 takes it only then) marks both
# UpToDate. Fair here because both disks are zeroed on the host just before.
drbd_up() { # drbd_up PROTOCOL [DISK]
  local n
  for n in node1 node2; do
    drbd_prepare $n "$1" "${2:-}"
    on $n 'yes yes | drbdadm create-md --force r0 >/dev/null 2>&1 && drbdadm up r0'
  done
  drbd_wait node1 30 "DRBD connection" 'grep -q "cs:Connected ro:Secondary/Secondary" /proc/drbd'
  on node1 'drbdadm new-current-uuid --clear-bitmap r0 && drbdadm primary r0'
  drbd_wait node1 30 "UpToDate/UpToDate" 'grep -q "ro:Primary/Secondary ds:UpToDate/UpToDate" /proc/drbd'
}
drbd_protocol() { # drbd_protocol P: change the running connection's protocol
  local n
  for n in node1 node2; do drbd_prepare $n "$1"; done
  on node1 "drbdadm net-options --protocol=$1 r0"
  drbd_wait node2 30 "protocol $1" "grep -q 'ds:UpToDate/UpToDate $1 ' /proc/drbd"
}
drbd_down() { # both nodes; quiet when DRBD is not up (bench.sh wipes the metadata after)
  local n
  for n in node1 node2; do
    on $n 'if [ -e /etc/drbd.conf ]; then drbdadm down r0 2>/dev/null; fi
      ! grep -q "^ 0: cs:" /proc/drbd || grep -q "^ 0: cs:Unconfigured" /proc/drbd' ||
      { echo "DRBD still up on $n" >&2; return 1; }
  done
}

