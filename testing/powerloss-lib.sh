# Power-loss crash states with dm-log-writes and mars-crashstate (docu/reliability.md),
# sourced after testing/lib.sh by scenario 15-power-loss and by the soak (scripts/soak.sh).
# On each node the resource's data disk is lw-data, the first 32 MiB of vda (logged on
# vdd), and /mars ext4 on the first 256 MiB of vdc (lw-mars while logging, on vdb).

DATA_SECTORS=65536  # r0: the first 32 MiB of vda, logged on vdd (64 MiB)
MARS_SECTORS=524288 # /mars: ext4 on the first 256 MiB of vdc, logged on vdb (512 MiB)

# reset: no module, no targets, /mars unmounted, the disks zeroed; restore: and /mars
# ext4 on all of vdc again, as the testbed made it.
reset() {
  local n d
  for n in node1 node2; do
    on $n 'rmmod mars 2>/dev/null; umount /mars 2>/dev/null; dmsetup remove_all 2>/dev/null; true'
  done
  for d in vda vdb vdc vdd; do zero_disks $d node1 node2; done
}
restore() {
  local n
  reset
  for n in node1 node2; do on $n 'mkfs.ext4 -q -F -L mars /dev/vdc && mount -t ext4 /dev/vdc /mars'; done
}

# logged NODE: data disk and /mars on dm-log-writes (logs zeroed: replay starts from
# zero), /mars made while logging (mounted with the options PL_MARS_OPTIONS, if set), the
# module loaded.
logged() {
  on "$1" "modprobe dm_log_writes &&
    dmsetup create lw-data --table '0 $DATA_SECTORS log-writes /dev/vda /dev/vdd' &&
    dmsetup create lw-mars --table '0 $MARS_SECTORS log-writes /dev/vdc /dev/vdb' && dmsetup mknodes &&
    mkfs.ext4 -q -F -N 4096 -E lazy_itable_init=0,lazy_journal_init=1 /dev/mapper/lw-mars &&
    mount -t ext4 ${PL_MARS_OPTIONS:+-o $PL_MARS_OPTIONS} /dev/mapper/lw-mars /mars && modprobe mars" || fail "dm-log-writes setup on $1"
}

# cut_marks NODE NAME WRITER: a consistent cut of NODE's two devices. While both are
# suspended (no I/O in flight on either), each gets the mark NAME+C (C: the sectors it
# has completed, written and discarded, so mars-crashstate finds the writes completed
# but not yet flushed, which dm-log-writes logs after the mark) and the writers'
# acknowledged numbers are read; then both resume. Prints "N FSYNC": the last numbers
# acknowledged by WRITER (dsync, or xfs) and by the fsync writer (-1: none).
cut_marks() {
  on "$1" "dmsetup suspend --nolockfs lw-mars && dmsetup suspend --nolockfs lw-data &&
    for d in lw-mars lw-data; do
      c=\$(awk '{ print \$7 + \$14 }' /sys/block/dm-\$(dmsetup info -c --noheadings -o minor \$d)/stat)
      dmsetup message \$d 0 mark $2+\$c || echo mark failed >&2
    done
    a=\$(tail -n 1 /tmp/acked-$3 2>/dev/null); b=\$(tail -n 1 /tmp/acked-fsync 2>/dev/null)
    dmsetup resume lw-data; dmsetup resume lw-mars; echo \${a:--1} \${b:--1}"
}

# unlogged NODE: the module unloaded, /mars unmounted, the targets removed (each log
# complete, ending with the mark dm-log-writes-end); fails if a log overflowed.
unlogged() {
  on "$1" 'rmmod mars && umount /mars && ! dmsetup status | grep logging_disabled &&
    dmsetup remove lw-data && dmsetup remove lw-mars' || fail "removing the log-writes targets on $1"
}

# state NODE MARK MODE SEED: NODE's disks as a power loss at MARK could leave them
# (zeroed first: recovery of the previous state wrote there), /mars mounted, lw-data a
# plain linear map (the resource's disk name), the module loaded (unless PL_NO_MODULE is
# set: the caller loads it).
state() {
  local load='&& modprobe mars'
  [ -z "${PL_NO_MODULE:-}" ] || load=
  echo "state $1 $2 $3 seed $4"
  on "$1" "blkdiscard -f -z -l 32M /dev/vda && blkdiscard -f -z -l 256M /dev/vdc &&
    mars-crashstate apply /dev/vdd /dev/vda --point $2 --mode $3 --seed $4 | sed 's/^/  data: /' &&
    mars-crashstate apply /dev/vdb /dev/vdc --point $2 --mode $3 --seed $4 | sed 's/^/  mars: /' &&
    dmsetup create lw-data --table '0 $DATA_SECTORS linear /dev/vda 0' && dmsetup mknodes &&
    mount -t ext4 /dev/vdc /mars $load" 2>&1 | grep -v 'Operation forced' ||
    fail "crash state $1 $2 $3 $4 does not come up"
}
down_state() { on "$1" 'rmmod mars && umount /mars && dmsetup remove lw-data' || fail "stopping $1"; }

caught_up_or_orphan() { caught_up "$1" "$2" || [ "$(view_field "$2" replstate)" = Orphan ]; }

# alone_state NODE WHAT: NODE, in a crash state of a secondary (WHAT says which), with
# its primary unreachable (the caller cut the network before the state came up), as
# after a power loss of the secondary followed by the loss of the primary's site: once
# its replay has applied what its own logfiles hold, its data disk is a consistent
# copy (each of the scenario's sequential writers' blocks a prefix of what was
# written), or `marsadm view` shows that it is not (Inconsistent, Orphan), or the state
# has lost the resource. Anything else is a copy that looks usable and is not.
alone_state() {
  local n=$1 what=$2 last= now same=0 state i checks
  shift 2
  on "$n" 'test -d /mars/resource-r0' || { echo "$n $what: no r0 (its join was lost)"; return 0; }
  # Replay has done what it can once its link stays put for 3 polls.
  for i in $(seq 120); do
    now=$(on "$n" "readlink /mars/resource-r0/replay-$n" 2>/dev/null)
    if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; last=$now; fi
    [ "$same" -lt 3 ] || break
    sleep 0.5
  done
  state=$(on "$n" 'marsadm view --json r0' | python3 -c "import json,sys; r=json.load(sys.stdin)['resources'][0]; print(r['diskstate'], r['replstate'])")
  case " $state " in
    *" Inconsistent "* | *" Orphan "*) echo "$n $what alone: shows that it is no consistent copy ($state)"; return 0 ;;
  esac
  checks=$(printf '%s && ' "$@")
  on "$n" "${checks% && }" | sed 's/^/  /'
  [ "${PIPESTATUS[0]}" = 0 ] ||
    fail "$n $what alone (replay at $now): its disk is not a consistent copy and view does not show it ($state)"
}

# secondary_state PRIMARY NODE WHAT: NODE, in a crash state (WHAT says which), follows
# PRIMARY again (its replay reaches PRIMARY's end and their disks are equal: returns 0),
# or shows that it needs a resync (Inconsistent, or Orphan: returns 1); fails otherwise.
secondary_state() {
  local d r
  # Orphan is final (nothing fills a hole in the logfile sequence): no need to wait the
  # whole minute for a catching up that cannot come.
  retry 60 caught_up_or_orphan "$1" "$2" || true
  if caught_up "$1" "$2"; then
    same_disks --bytes $((DATA_SECTORS * 512)) vda "$1" "$2"
    return 0
  fi
  # Not following again is acceptable only when it is shown: not a consistent copy
  # (a sync is needed), or behind a hole in the logfile sequence.
  on "$2" 'marsadm view r0'
  d=$(view_field "$2" diskstate)
  r=$(view_field "$2" replstate)
  [ "$d" = Inconsistent ] || [ "$r" = Orphan ] ||
    fail "$2 $3: neither follows $1 nor shows that it needs a resync ($d, $r)"
  echo "$2 $3: shows that it needs a resync ($d, $r)"
  return 1
}

# primary_state NODE WHAT CHECK...: NODE, in a crash state of the primary (WHAT says
# which), recovers: /dev/mars/r0 comes back, each CHECK (a mars-writer --mode check
# command line: the blocks acknowledged before the mark) passes, and marsadm cat finds
# no damaged record in any logfile.
primary_state() {
  local n=$1 what=$2 c
  shift 2
  retry 60 on "$n" 'test -b /dev/mars/r0' || fail "$n $what: /dev/mars/r0 did not come back"
  for c in "$@"; do
    on "$n" "$c" || fail "$n $what: a block acknowledged before the mark is not there ($c)"
  done
  on "$n" 'for f in /mars/resource-r0/log-*; do marsadm cat --summary $f; rc=$?; [ $rc = 1 ] && exit 1; done; true' |
    sed 's/^/  /' || fail "$n $what: a logfile does not verify"
}
