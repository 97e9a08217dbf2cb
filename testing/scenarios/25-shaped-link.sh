#!/usr/bin/env bash
# Long distance (design reference §9.2): with node1's replication link shaped to 200 ms
# delay, 1% loss and 10 Mbit/s (an eighth of the rate at which it writes while it
# replicates over the unshaped link, where that is less), the application on the
# primary writes as fast as over the unshaped link (replication is asynchronous: not
# held down to the link rate), and replication completes after the writer stops. Prints
# the rates.
source "$(dirname "$0")/../lib.sh"

fresh_modules node1 node2
create_r0
join_cluster node2
on node2 'marsadm join-resource r0 /dev/vdb >/dev/null'
on node2 'marsadm wait-resource r0 --until uptodate --timeout 300' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"

mib=8
on node1 "head -c $((mib << 20)) /dev/urandom > /tmp/data"
# write_rate: KiB/s at which node1's application writes /tmp/data to /dev/mars/r0, fsync'ed.
write_rate() {
  local start ns
  start=$(date +%s%N)
  on node1 "dd if=/tmp/data of=/dev/mars/r0 bs=1M conv=fsync status=none" || return 1
  ns=$(( $(date +%s%N) - start ))
  echo $(( (mib << 20) / 1024 * 1000000000 / ns ))
}

step "node1 writes ${mib} MiB while node2 is cut off, then while it replicates unshaped"
tb net cut node1 node2
local_kib_s=$(write_rate) || fail "writing with node2 cut off"
tb net heal node1 node2
retry 120 caught_up node1 node2 || fail "node2 did not catch up after the cut: $(on node1 'marsadm view r0')"
# Replicating costs node1 CPU (fetch server, TCP, MACs), and on a slow kernel (the debug
# kernel) VMs beside it take a large share: the rate to beat comes from this run.
repl_kib_s=$(write_rate) || fail "writing while replicating"
retry 120 caught_up node1 node2 || fail "node2 did not catch up: $(on node1 'marsadm view r0')"
echo "application write rate on the primary: ${local_kib_s} KiB/s with node2 cut off, ${repl_kib_s} KiB/s replicating unshaped"
# The link: 10 Mbit/s, or an eighth of that rate on a kernel slower than that: held
# down to the link, the application would write at most at the link's rate; it has to
# beat it twice over.
link_kbit=$(( repl_kib_s * 1024 / 1000 ))
[ "$link_kbit" -le 10000 ] || link_kbit=10000
tb net shape node1 --delay 200 --loss 1 --rate $link_kbit
trap 'tb net unshape node1 >/dev/null 2>&1 || true' EXIT

step "node1 writes ${mib} MiB over a ${link_kbit} kbit/s, 200 ms, 1% loss link"
app_kib_s=$(write_rate) || fail "writing over the shaped link"
link_kib_s=$(( link_kbit * 1000 / 8 / 1024 ))
echo "application write rate on the primary: ${app_kib_s} KiB/s (${repl_kib_s} KiB/s unshaped); link rate: ${link_kib_s} KiB/s"
[ "$app_kib_s" -gt $(( 2 * link_kib_s )) ] || fail "the primary's writes were held down to the link rate"

step "replication completes after the writer stopped"
# node2 has replayed everything once its replay position reaches the end of node1's
# logfile (judged on the logfile itself, not on metadata that may be seconds old).
log=$(on node1 'readlink /mars/resource-r0/replay-node1 | cut -d, -f1')
end=$(log_end node1 /mars/resource-r0/$log)
caught_start=$SECONDS
retry 500 on node2 "l=\$(readlink /mars/resource-r0/replay-node2) && [ \"\${l%%,*}\" = $log ] && [ \$(echo \$l | cut -d, -f2) -ge $end ]" ||
  fail "node2 did not catch up: $(on node2 'marsadm view r0')"
echo "node2 replayed $end bytes of $log $((SECONDS - caught_start)) s after the writer stopped"
on node2 'marsadm view r0'
tb net unshape node1
# The written range, hashed on the host once the module has closed both disks.
for n in node1 node2; do on $n 'marsadm down r0' || fail "down on $n"; done
same_disks --bytes $((mib << 20)) vdb node1 node2
