#!/usr/bin/env bash
# `make soak SEED=S CYCLES=N` (docu/reliability.md, "Seeded soak"): a seeded soak of a two-node
# resource on its own testbed instance (MARS_TESTBED_INSTANCE, default "soak"; 7.3
# kernel: dm-log-writes). node1 creates r0 on lw-data (the first 32 MiB of vda, a
# device-mapper device as in scenario 15), node2 joins. Each cycle runs the verifying
# workload (mars-writer: numbered O_DSYNC blocks, each number also recorded on vde so
# it survives a crash) on the primary and one action chosen by the seed:
#   powerloss  crash states of the primary or the secondary from a dm-log-writes
#              recording (testing/powerloss-lib.sh: the resource is made anew on zeroed
#              disks with the victim logging; 2 states per cut, the last one stays)
#   crash      host crash (qemu killed) of the primary or the secondary, boot, recovery
#   net        network fault: cut, one-way loss, flapping link, or netem mangling
#   handover   planned handover to the secondary
#   failover   forced failover to the secondary, the old primary back as a secondary
#              (it follows, or invalidate after a split brain: docu/failover.md)
# After each cycle: every block acknowledged must read back on the primary (a model of
# every block on the host; after a failover: a prefix of the writes), the secondary
# converges (or `marsadm view` shows that it needs a resync, which the soak then does),
# and every CHECK_EVERY cycles both go down and their disks must be equal. Stops at the
# first violation (cycle, action, block, seed), exit 1. Every choice comes from SEED:
# the same seed gives the same actions with the same parameters (timing under TCG, and
# so the numbers of blocks written, differs from run to run).
#
# SEED (default random), CYCLES (default 20), CHECK_EVERY (default 5), PL_MARKS (cuts
# per power-loss recording, default 3), SOAK_ACTIONS (comma list to restrict the
# actions), SOAK_WEIGHTS (five numbers, the draw weights of powerloss, crash, net,
# handover, failover; default "36 20 20 12 12"), SOAK_WRITER_MODE=direct (writes without O_DSYNC: nothing asks for
# durability, so a power loss may lose acknowledged blocks: shows that the soak can
# fail), SOAK_KEEP=1 (leave the nodes up at the end), SOAK_DRY=1 (print the cycles'
# actions only: no testbed).
set -Eeuo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export MARS_TESTBED_INSTANCE=${MARS_TESTBED_INSTANCE:-soak}
# shellcheck source=testing/lib.sh
source "$top/testing/lib.sh"
# shellcheck source=testing/powerloss-lib.sh
source "$top/testing/powerloss-lib.sh"

SEED=${SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000 ))}
CYCLES=${CYCLES:-20}
CHECK_EVERY=${CHECK_EVERY:-5}
PL_MARKS=${PL_MARKS:-3}
ACTIONS=(powerloss crash net handover failover)
read -r -a WEIGHTS <<<"${SOAK_WEIGHTS:-36 20 20 12 12}"
[ ${#WEIGHTS[@]} = ${#ACTIONS[@]} ] && [[ "${WEIGHTS[*]}" =~ ^[0-9\ ]+$ ]] ||
  { echo "soak: SOAK_WEIGHTS must be ${#ACTIONS[@]} numbers (${ACTIONS[*]})" >&2; exit 2; }
[[ "$SEED" =~ ^[0-9]+$ ]] || { echo "soak: SEED must be a number" >&2; exit 2; }
[[ "$CYCLES" =~ ^[0-9]+$ ]] || { echo "soak: CYCLES must be a number" >&2; exit 2; }
# The settings that change what a run does, for the line that repeats it.
settings=$(for v in PL_MARKS CHECK_EVERY SOAK_ACTIONS SOAK_WEIGHTS SOAK_WRITER_MODE; do
  if [ -n "${!v:-}" ]; then echo -n "$v=\"${!v}\" "; fi; done)
if [ -n "${SOAK_ACTIONS:-}" ]; then
  for i in "${!ACTIONS[@]}"; do [[ ",$SOAK_ACTIONS," == *",${ACTIONS[$i]},"* ]] || WEIGHTS[$i]=0; done
fi
echo "soak: seed $SEED"
echo "soak: $CYCLES cycles, checkpoint every $CHECK_EVERY, instance $MARS_TESTBED_INSTANCE (repeat: ${settings}make soak SEED=$SEED CYCLES=$CYCLES)"

BLOCKS=$((DATA_SECTORS / 8)) # 4 KiB blocks of r0
work=$(mktemp -d /tmp/mars-soak.XXXXXX)
model=$work/model.json
cycle=0 doing="setup" P=node1 S=node2 writer=
declare -A count secs
for a in "${ACTIONS[@]}"; do count[$a]=0; secs[$a]=0; done
states=0 followed=0 shown=0 forgot=0 resyncs=0 checkpoints=0

# --- the seeded generator: an LCG (glibc's constants), 31 bits, in this shell ---------
rng=$SEED
rand() { # rand N: R = the next number in [0, N)
  rng=$(( (rng * 1103515245 + 12345) % 2147483648 ))
  R=$(( (rng >> 8) % $1 ))
}

# --- failure report -------------------------------------------------------------------
fail() {
  trap - ERR
  echo "soak: FAILED at cycle $cycle of $CYCLES, $doing: $*" >&2
  echo "soak: seed $SEED; repeat with: ${settings}make soak SEED=$SEED CYCLES=$cycle" >&2
  local n
  for n in node1 node2; do
    echo "--- $n: kernel log (last 40 lines)" >&2
    timeout 20 "$TB" exec $n -- sh -c 'dmesg | tail -40; marsadm view r0 2>&1; true' >&2 2>&1 ||
      tail -40 "$(tb_state)/$n/console.log" >&2 2>/dev/null || true
  done
  echo "soak: consoles in $(tb_state)/node*/console.log, the model and the last read of r0 in $work;" \
    "nodes left up (MARS_TESTBED_INSTANCE=$MARS_TESTBED_INSTANCE testing/testbed down removes them)" >&2
  exit 1
}
trap 'fail "command failed (line $LINENO, status $?): $BASH_COMMAND"' ERR

# --- the model: what each 4 KiB block of r0 may hold ----------------------------------
# model init | write TAG START ACKED ISSUED | check IMAGE [PREFIX-TAG START]
# write: blocks START+i (i <= ACKED) hold "TAG i" now; for ACKED < i <= ISSUED either
# that or what they held before (written or not when the writer stopped or crashed).
# check: every block holds one of the values it may hold (and, with PREFIX-TAG, the
# blocks of that tag's writes that arrived are a prefix of them); then each block's
# value is what was read. Prints the first blocks that differ.
model() {
  python3 - "$model" "$BLOCKS" "$@" <<'PY'
import json, sys
path, blocks, op, args = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
if op == "init":
    json.dump([["zero"]] * blocks, open(path, "w")); sys.exit(0)
m = json.load(open(path))
if op == "write":
    tag, start, acked, issued = args[0], int(args[1]), int(args[2]), int(args[3])
    for i in range(0, max(acked, issued) + 1):
        b = start + i
        if b >= blocks: break
        v = "%s %08d" % (tag, i)
        m[b] = [v] if i <= acked else sorted(set(m[b] + [v]))
    json.dump(m, open(path, "w")); sys.exit(0)
if op == "check":
    data = open(args[0], "rb").read()
    if len(data) < blocks * 4096:
        print("read only %d bytes of %d" % (len(data), blocks * 4096)); sys.exit(1)
    got = []
    for b in range(blocks):
        head = data[b * 4096:b * 4096 + 64]
        got.append("zero" if head[0] == 0 else head.split(b"\n")[0].decode("latin-1"))
    bad = [b for b in range(blocks) if got[b] not in m[b]]
    for b in bad[:10]:
        print("block %d holds %r, expected %s" % (b, got[b], " or ".join(map(repr, m[b]))))
    if bad:
        print("%d blocks differ" % len(bad)); sys.exit(1)
    if len(args) > 1:
        tag, start = args[1], int(args[2])
        new = [i for i in range(blocks - start) if got[start + i].startswith(tag + " ")]
        if new != list(range(len(new))):
            print("not a prefix of the writes: %s blocks arrived, first gap after %d" %
                  (len(new), next(i for i, k in enumerate(new) if k != i) - 1)); sys.exit(1)
        print("a prefix of %d of the writes" % len(new))
    json.dump([[g] for g in got], open(path, "w")); sys.exit(0)
sys.exit(2)
PY
}
# verify [PREFIX-TAG START]: r0 as the primary reads it, checked against the model.
verify() {
  "$TB" exec "$P" -- dd if=/dev/mars/r0 bs=1M count=$((BLOCKS / 256)) iflag=direct status=none > "$work/r0.img" ||
    fail "reading /dev/mars/r0 on $P"
  model check "$work/r0.img" "$@" || fail "$P (primary) does not read back what was acknowledged"
}

# --- nodes -----------------------------------------------------------------------------
swap() { local t=$P; P=$S; S=$t; }
# node_up NODE: after a boot: lw-data as a plain map, /mars (mounted by the node's init),
# the module loaded (recovery runs).
node_up() {
  on "$1" "dmsetup create lw-data --table '0 $DATA_SECTORS linear /dev/vda 0' && dmsetup mknodes &&
    { grep -q ' /mars ' /proc/mounts || mount -t ext4 /dev/vdc /mars; } && modprobe mars" || fail "bringing $1 up"
}
# plain NODE: a fresh /mars (as logged makes it, without logging) and lw-data as a plain map.
plain() {
  on "$1" "dmsetup create lw-data --table '0 $DATA_SECTORS linear /dev/vda 0' && dmsetup mknodes &&
    mkfs.ext4 -q -F -N 4096 -E lazy_itable_init=0,lazy_journal_init=1 /dev/vdc 256M &&
    mount -t ext4 /dev/vdc /mars && modprobe mars" || fail "fresh /mars on $1"
}
# resource: the resource anew on zeroed disks, P creates it, S joins; VICTIM (or none)
# logs both its devices from the start (dm-log-writes), the other one runs plain.
resource() {
  local n key
  reset
  for n in node1 node2; do if [ "$n" = "${1:-}" ]; then logged $n; else plain $n; fi; done
  on $P 'marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/mapper/lw-data >/dev/null &&
    marsadm wait-resource r0 --until primary --timeout 30' || fail "creating r0 on $P"
  key=$(on $P 'cat /mars/cluster.key')
  on $S "echo $key | marsadm join-cluster $P --secret-file - >/dev/null && marsadm wait-resource r0 --timeout 30 &&
    marsadm join-resource r0 /dev/mapper/lw-data >/dev/null &&
    marsadm wait-resource r0 --until uptodate --timeout 120" || fail "$S joining r0"
  model init
}

# --- the workload -----------------------------------------------------------------------
# start_writer: numbered blocks "c<cycle> <i>" from block $wstart on the primary, each
# O_DSYNC, each acknowledged number printed and recorded on vde.
start_writer() {
  on $P 'dd if=/dev/zero of=/dev/vde bs=4096 count=1 oflag=direct status=none; rm -f /tmp/acked-soak /tmp/writer.err'
  "$TB" exec $P -- sh -c "exec mars-writer /dev/mars/r0 --start $wstart --count $((BLOCKS - wstart)) --tag c$cycle \
    --mode ${SOAK_WRITER_MODE:-dsync} --acks /dev/vde > /tmp/acked-soak 2>/tmp/writer.err" >/dev/null 2>&1 &
  writer=$!
  retry 20 on $P 'test -s /tmp/acked-soak' || fail "the writer on $P acknowledges nothing: $(on $P 'cat /tmp/writer.err')"
}
# stop_writer: stop it; $acked is its last acknowledged number. A write error fails.
stop_writer() {
  on $P 'kill $(pidof mars-writer) 2>/dev/null; true'
  wait $writer || true
  writer=
  on $P 'test ! -s /tmp/writer.err' || fail "the writer on $P failed: $(on $P 'cat /tmp/writer.err')"
  acked=$(on $P 'tail -n 1 /tmp/acked-soak')
  acked=${acked:--1}
}
# acked_on_disk NODE: the last number the writer recorded on vde (after a crash).
acked_on_disk() {
  local a
  a=$(on "$1" 'dd if=/dev/vde bs=4096 count=1 status=none | head -n 1 | tr -d "\0"')
  case $a in "acked "*) echo "${a#acked }" ;; *) echo -1 ;; esac
}
written() { # written ACKED: the model learns this cycle's writes (ACKED+1 maybe issued)
  model write "c$cycle" "$wstart" "$1" $(($1 + 1))
  echo "  writer: blocks $wstart.. acknowledged up to $1"
}

# converge: the secondary catches up with the primary, or `marsadm view` on it shows
# that it needs a resync (Inconsistent: the sync goes on by itself; Orphan or a split
# brain: invalidate), which the soak then does; anything else is silent divergence.
converge() { # converge [SECONDS to wait for it to follow by itself, default 120]
  local limit=${1:-120} t0=$SECONDS d r sb
  while ! caught_up $P $S; do
    # After 10 s, a split brain or a hole shown ends the wait: it needs a resync.
    if [ $((SECONDS - t0)) -ge 10 ] || [ "$limit" -lt 10 ]; then
      sb=$(on $S 'marsadm view-is-split-brain r0' || true)
      r=$(view_field $S replstate)
      if [ "$sb" = 1 ] || [ "$r" = Orphan ]; then break; fi
    fi
    if [ $((SECONDS - t0)) -ge "$limit" ]; then break; fi
    sleep 1
  done
  caught_up $P $S && return 0
  d=$(view_field $S diskstate)
  r=$(view_field $S replstate)
  sb=$(on $S 'marsadm view-is-split-brain r0' || true)
  echo "  $S does not follow $P by itself: diskstate $d, replstate $r, split brain $sb"
  if [ "$d" = Inconsistent ]; then
    :
  elif [ "$r" = Orphan ] || [ "$sb" = 1 ]; then
    on $S 'marsadm invalidate r0' || fail "invalidate on $S: $(on $S 'marsadm view r0')"
  else
    on $S 'marsadm view r0' || true
    fail "$S neither follows $P nor shows that it needs a resync ($d, $r, split brain $sb)"
  fi
  resyncs=$((resyncs + 1))
  on $S 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "$S not UpToDate after the resync: $(on $S 'marsadm view r0')"
  retry 120 caught_up $P $S || fail "$S does not follow $P after the resync: $(on $S 'marsadm view r0')"
}

# checkpoint: both down, the disks compared on the host, both up again.
checkpoint() {
  local n
  for n in $P $S; do on $n 'marsadm down r0' || fail "down on $n"; done
  same_disks --bytes $((DATA_SECTORS * 512)) vda $P $S || fail "the disks differ"
  for n in $P $S; do on $n 'marsadm up r0 >/dev/null' || fail "up on $n"; done
  retry 60 on $P 'test -b /dev/mars/r0' || fail "/dev/mars/r0 not back on $P after up"
  checkpoints=$((checkpoints + 1))
  echo "  /mars in use: $(for n in $P $S; do echo -n "$n $(on $n 'df -k /mars | tail -1' | awk '{ print $5 }') "; done)"
}

# rejoin: the secondary, whose crash state lost the resource (or the cluster), joins again.
rejoin() {
  local key
  if ! on $S 'test -s /mars/uuid && test -s /mars/cluster.key'; then
    key=$(on $P 'cat /mars/cluster.key')
    on $S "echo $key | marsadm join-cluster $P --secret-file - >/dev/null" || fail "join-cluster again on $S"
  fi
  on $S 'marsadm wait-resource r0 --timeout 30 && marsadm join-resource --force r0 /dev/mapper/lw-data' ||
    fail "join-resource --force on $S: $(on $S 'marsadm view r0 2>&1')"
  resyncs=$((resyncs + 1))
}

# --- the actions -------------------------------------------------------------------------
# powerloss VICTIM: the resource anew with VICTIM logging, the writer on the primary,
# PL_MARKS consistent cuts of VICTIM 1.5 s apart; then 2 crash states per cut (modes
# from $sub), each checked as in scenario 15; the last state (the last cut) stays. A
# primary's last cut comes after the network to the secondary is cut (the secondary has
# nothing from after it, as with a real power loss) and its states are checked while the
# secondary sees nothing of them; then the network heals and the secondary must follow.
act_powerloss() {
  local v=$1 k j m mode last quick=120 modes=(drop-all keep-all random torn)
  declare -A at
  resource $v
  start_writer
  sleep 2
  for k in $(seq 1 $PL_MARKS); do
    if [ $v = $P ] && [ $k = $PL_MARKS ]; then tb net cut $P $S; fi
    at[m$k]=$(cut_marks $v m$k soak) || fail "cut m$k on $v"
    sleep 1.5
  done
  stop_writer
  if [ $v = $P ]; then
    echo "  cuts: acknowledged up to $(for k in $(seq 1 $PL_MARKS); do echo -n "m$k ${at[m$k]% *}; "; done)at the end $acked"
  fi
  if [ $v = $S ]; then
    written $acked
    retry 60 caught_up $P $S || fail "$S does not catch up after the recording"
  fi
  unlogged $v
  last=$((2 * PL_MARKS - 1))
  for j in $(seq 0 $last); do
    m=m$((j / 2 + 1)) mode=${modes[$(((j + sub) % 4))]}
    state $v $m $mode $((sub + j)) | grep -v '^  *\(data\|mars\): \(point\|pending\|wrote\)' | sed 's/^/  /'
    if [ $v = $S ] && ! on $S 'marsadm view r0 >/dev/null 2>&1'; then
      # The state lost the victim's join (its /mars links were not yet on disk): it
      # says so (no resource r0 here); at the last state it joins again.
      echo "  $S state $m $mode: r0 unknown on $S (its join-resource did not survive): shown"
      forgot=$((forgot + 1)) shown=$((shown + 1)) quick=1
      if [ $j = $last ]; then rejoin; fi
    elif [ $v = $S ]; then
      if secondary_state $P $S "state $m $mode seed $((sub + j))"; then
        followed=$((followed + 1)) quick=120
      else
        shown=$((shown + 1)) quick=1
      fi
    else
      primary_state $P "state $m $mode seed $((sub + j))" \
        "mars-writer /dev/mars/r0 --mode check --tag c$cycle --start $wstart --count $((${at[$m]% *} + 1))"
    fi
    states=$((states + 1))
    [ $j = $last ] || down_state $v
  done
  if [ $v = $P ]; then
    # The blocks after the last cut may or may not be there.
    model write "c$cycle" "$wstart" "${at[$m]% *}" $((acked + 1))
    tb net heal $P $S
  fi
  converge $quick
}

# crash VICTIM AFTER: the writer runs, VICTIM's qemu is killed after AFTER s, it boots.
act_crash() {
  local v=$1
  start_writer
  sleep "$2"
  tb crash $v
  tb start $v >/dev/null
  node_up $v
  if [ $v = $P ]; then
    wait $writer || true
    writer=
    retry 60 on $P 'test -b /dev/mars/r0' || fail "/dev/mars/r0 did not come back on $P after its crash"
    acked=$(acked_on_disk $P)
    on $P 'dmesg | grep "mars:.*\(recover\|dropped\)"' | sed 's/^/  /' || true
  else
    sleep 2
    stop_writer
  fi
  written $acked
  converge
}

# net VARIANT SECONDS: cut, one-way loss (of the primary's or the secondary's packets),
# a flapping link, or netem mangling on both, while the writer runs.
netem() { on "$1" "tc qdisc replace dev repl0 root netem limit 100000 ${*:2}" || fail "netem $* on $1"; }
clean() { on "$1" 'tc qdisc del dev repl0 root 2>/dev/null; true'; }
act_net() {
  local i
  start_writer
  case $1 in
    0) tb net cut $P $S; sleep "$2"; tb net heal $P $S ;;
    1) netem $vnode loss 100%; sleep "$2"; clean $vnode ;;
    2) for i in $(seq 1 $((($2 + 1) / 2))); do tb net cut $P $S; sleep 1.5; tb net heal $P $S; sleep 1.5; done ;;
    3) for i in $P $S; do netem $i delay 20ms 10ms reorder 25% 50% duplicate 5% corrupt 1%; done
       sleep "$2"; for i in $P $S; do clean $i; done ;;
  esac
  stop_writer
  written $acked
  converge
}

# handover SECONDS: the writer runs, stops, the secondary becomes primary (planned).
act_handover() {
  start_writer
  sleep "$1"
  stop_writer
  written $acked
  on $S 'marsadm primary r0 --timeout 120' || fail "handover to $S: $(on $S 'marsadm view r0')"
  swap
  on $P 'marsadm wait-resource r0 is-device-on --timeout 30' || fail "no device on $P after the handover"
  converge
}

# failover VARIANT SECONDS: 0: the writer stops, the network stays; 1: the network is
# cut while the writer runs. Then pause-fetch and primary --force on the secondary; its
# disk must hold a prefix of the writes. The old primary, its device closed, follows by
# itself, or (split brain) is invalidated.
act_failover() {
  start_writer
  sleep "$2"
  if [ "$1" = 1 ]; then tb net cut $P $S; sleep 2; else stop_writer; fi
  out=$(on $S 'marsadm pause-fetch r0 >/dev/null && marsadm primary --force r0 2>&1') || fail "primary --force on $S: $out"
  echo "$out" | sed 's/^/  /'
  if [ "$1" = 1 ]; then stop_writer; fi
  echo "  writer: blocks $wstart.. acknowledged up to $acked on $P"
  model write "c$cycle" "$wstart" -1 $((acked + 1))
  swap
  verify "c$cycle" "$wstart"
  if [ "$1" = 1 ]; then tb net heal $P $S; fi
  retry 90 on $S "test \"\$(readlink /mars/resource-r0/actual-$S/is-primary)\" = 0" || fail "$S did not leave the primary role"
  converge
}

# --- run ---------------------------------------------------------------------------------
# One compound command, read whole before it runs (the script may change meanwhile).
{
total=0
for w in "${WEIGHTS[@]}"; do total=$((total + w)); done
[ $total -gt 0 ] || { echo "soak: SOAK_ACTIONS names no action" >&2; exit 2; }
if [ "${SOAK_DRY:-0}" != 1 ]; then
step "setup: instance $MARS_TESTBED_INSTANCE, 2 nodes, r0 on node1, node2 joins"
tb up --nodes 2 --kernel 7.3 >/dev/null
for n in node1 node2; do on $n 'umount /mnt/r0 2>/dev/null; tc qdisc del dev repl0 root 2>/dev/null; true'; done
tb net heal node1 node2 >/dev/null 2>&1 || true
resource ""
fi
for cycle in $(seq 1 "$CYCLES"); do
  # Every cycle draws the same numbers, whatever happens: the sequence depends on SEED alone.
  rand $total; pick=$R
  rand 2; victim=$R
  rand 8; dur=$((R + 4))
  rand 4; variant=$R
  rand $((BLOCKS / 2)); wstart=$R
  rand 1000000; sub=$R
  for i in "${!ACTIONS[@]}"; do
    if [ $pick -lt "${WEIGHTS[$i]}" ]; then action=${ACTIONS[$i]}; break; fi
    pick=$((pick - WEIGHTS[i]))
  done
  if [ $victim = 0 ]; then vnode=$P vrole=primary; else vnode=$S vrole=secondary; fi
  case $action in
    powerloss) doing="powerloss of the $vrole ($vnode), $PL_MARKS cuts, states seed $sub" ;;
    crash) doing="crash of the $vrole ($vnode) after ${dur}s" ;;
    net) doing="network $(echo "cut for ${dur}s|loss of $vnode's packets for ${dur}s|flapping for ${dur}s|netem delay/reorder/duplicate/corrupt for ${dur}s" | cut -d'|' -f$((variant + 1)))" ;;
    handover) doing="handover $P -> $S after ${dur}s of writes" ;;
    failover) doing="forced failover $P -> $S after ${dur}s of writes, $([ $((variant % 2)) = 1 ] && echo 'network cut, writer running' || echo 'writer stopped, network up')" ;;
  esac
  doing="$doing, writes from block $wstart"
  echo "soak: cycle $cycle: $doing"
  if [ "${SOAK_DRY:-0}" = 1 ]; then
    count[$action]=$((count[$action] + 1))
    case $action in handover | failover) swap ;; esac
    continue
  fi
  t0=$SECONDS
  case $action in
    powerloss) act_powerloss $vnode ;;
    crash) act_crash $vnode $dur ;;
    net) act_net $variant $dur ;;
    handover) act_handover $dur ;;
    failover) act_failover $((variant % 2)) $dur ;;
  esac
  verify
  on $P 'marsadm log-rotate r0 >/dev/null' || fail "log-rotate on $P"
  for n in $P $S; do on $n 'marsadm cron >/dev/null' || fail "cron on $n"; done
  if [ $((cycle % CHECK_EVERY)) = 0 ] || [ "$cycle" = "$CYCLES" ]; then
    checkpoint
  fi
  count[$action]=$((count[$action] + 1))
  secs[$action]=$((secs[$action] + SECONDS - t0))
  echo "  cycle $cycle done in $((SECONDS - t0)) s; primary $P"
done
doing="the end"

echo "soak: seed $SEED"
for a in "${ACTIONS[@]}"; do
  if [ "${count[$a]}" = 0 ]; then continue; fi
  if [ "${SOAK_DRY:-0}" = 1 ]; then echo "soak: $a: ${count[$a]} cycles"; continue; fi
  echo "soak: $a: ${count[$a]} cycles, $((secs[$a] / count[$a])) s each on average"
done
if [ "${SOAK_DRY:-0}" = 1 ]; then exit 0; fi
echo "soak: $states power-loss crash states (secondary followed again after $followed, showed that it needs a resync after $shown, of which $forgot had lost the secondary's join), $resyncs resyncs, $checkpoints disk comparisons"
echo "soak: $CYCLES cycles, 0 lost, 0 divergent"
rm -rf "$work"
[ "${SOAK_KEEP:-0}" = 1 ] || [ "${SOAK_DRY:-0}" = 1 ] || tb down >/dev/null
exit 0
}
