#!/usr/bin/env bash
# /proc/sys/mars tunables and counters: defaults, range checks, every completion
# semantics and record digest under fio verification (with reads right after writes,
# so reads overlap buffered writes), the memory limit holding writers back, the Lamport
# clock, the module unloaded (view's ModuleNotLoaded, value commands exit 1), and the
# version links' MD5 hash chain.
source "$(dirname "$0")/../lib.sh"

n=node1
P=/proc/sys/mars
on $n 'rmmod mars 2>/dev/null; rm -rf /mars/*; true'
on $n 'modprobe mars && marsadm create-cluster >/dev/null && marsadm create-resource r0 /dev/vdb >/dev/null'
retry 30 on $n 'test -b /dev/mars/r0' || fail "/dev/mars/r0 did not appear"

step "defaults and range checks"
assert_eq "1 0 128 0 0" "$(on $n "echo \$(cat $P/logger_completion_semantics $P/log_digest $P/mem_limit_mb $P/logger_sync_is_durable $P/mars_broken_fails_writes)")" "defaults"
for bad in "logger_completion_semantics 3" "logger_completion_semantics -1" "log_digest 4" "mem_limit_mb 0" "logger_sync_is_durable 2" "mars_broken_fails_writes 2"; do
  set -- $bad
  on $n "echo $2 > $P/$1" 2>/dev/null && fail "$1 accepted $2"
done
assert_eq "1 0 128 0 0" "$(on $n "echo \$(cat $P/logger_completion_semantics $P/log_digest $P/mem_limit_mb $P/logger_sync_is_durable $P/mars_broken_fails_writes)")" "unchanged after bad writes"
on $n "echo 5 > $P/version" 2>/dev/null && fail "version is writable"
for d in 0_meta:16 1_replication:4 2_sync:2; do
  dir=$P/tcp_tuning_${d%%:*}_traffic
  assert_eq "${d##*:} 10 4 3 3 0" "$(on $n "cat $dir/ip_tos $dir/tcp_timeout $dir/tcp_keepidle $dir/tcp_keepintvl $dir/tcp_keepcnt $dir/tcp_nodelay | xargs")" "$dir"
done
on $n "echo 256 > $P/tcp_tuning_0_meta_traffic/ip_tos" 2>/dev/null && fail "ip_tos accepted 256"
on $n "echo 0 > $P/tcp_tuning_1_replication_traffic/tcp_timeout" 2>/dev/null && fail "tcp_timeout accepted 0"

step "lamport clock: <sec>.<nsec>, not behind real time"
c=$(on $n "cat $P/lamport_clock")
[[ $c =~ ^[0-9]+\.[0-9]{9}$ ]] || fail "lamport_clock malformed: $c"
now=$(on $n 'date +%s')
[ "${c%.*}" -ge "$((now - 1))" ] || fail "lamport_clock $c behind real time $now"

step "every completion semantics and digest under fio verification"
for combo in "0 1" "1 2" "2 0" "0 3"; do
  set -- $combo
  on $n "echo $1 > $P/logger_completion_semantics && echo $2 > $P/log_digest"
  on $n "fio --name=v$1 --thread --filename=/dev/mars/r0 --direct=1 --ioengine=libaio --iodepth=8 \
      --rw=randwrite --bs=4k --size=24M --offset=$(($1 * 32))M --verify=crc32c --verify_backlog=8 \
      --do_verify=1 --verify_fatal=1 --output-format=terse >/dev/null" ||
    fail "fio verification failed with semantics $1, digest $2"
done
echo "reads answered from buffered writes: $(on $n "cat $P/reads_from_buffer")"
digests=$(on $n 'for f in /mars/resource-r0/log-*; do marsadm cat $f; done' | awk 'NR > 1 && $NF ~ /^(crc32c|md5|sha1|xxh64)$/ { print $NF }' | sort -u | xargs)
assert_eq "crc32c md5 sha1 xxh64" "$digests" "record digests in the logs"
on $n 'ok=0; for f in /mars/resource-r0/log-*; do marsadm cat --summary $f || ok=1; done; exit $ok' ||
  fail "a logfile does not verify"

step "a small memory limit holds writers back, never drops anything"
on $n "echo 1 > $P/logger_completion_semantics && echo 0 > $P/log_digest && echo 2 > $P/mem_limit_mb"
on $n "(while sleep 0.2; do cat $P/mem_used_kb; done > /tmp/mem.log) & w=\$!
  fio --name=m --thread --filename=/dev/mars/r0 --direct=1 --ioengine=libaio --iodepth=16 --rw=write --bs=256k \
      --size=48M --offset=96M --verify=crc32c --do_verify=1 --verify_fatal=1 --output-format=terse >/dev/null; r=\$?
  kill \$w; exit \$r" || fail "fio verification failed under a 2 MiB memory limit"
max=$(on $n 'sort -n /tmp/mem.log | tail -1')
echo "largest buffered amount seen: ${max} KiB (limit 2048 KiB)"
# A writer may exceed the limit by one request (256 KiB) when it finds the buffer empty.
[ "${max:-0}" -le $((2048 + 256)) ] || fail "buffer held ${max} KiB, limit 2048 KiB"
on $n "echo 128 > $P/mem_limit_mb"

step "module unloaded: view says ModuleNotLoaded, the value commands exit 1"
on $n 'rmmod mars'
out=$(on $n 'marsadm view r0 2>&1') || fail "view without the module: $out"
echo "$out"
grep -q '^WARNING: mars kernel module is not loaded' <<<"$out" && grep -q '^  r0 \[1/1\] [A-Za-z]* ModuleNotLoaded ' <<<"$out" || fail "view without the module: $out"
out=$(on $n 'marsadm view-lines r0') || fail "view-lines without the module: $out"
grep -q '^node1 Detached ModuleNotLoaded None - ' <<<"$out" && grep -q 'mars.ko is not loaded here' <<<"$out" || fail "view-lines without the module: $out"
expect_status 7 on $n 'marsadm state r0'
assert_eq "Detached ModuleNotLoaded" "$(on $n 'marsadm state r0 2>/dev/null' || true)" "state without the module"
expect_status 7 on $n 'marsadm view-is-primary r0'
out=$(on $n 'marsadm view-sync-rest r0 2>&1 >/dev/null' || true)
grep -q 'module is not loaded' <<<"$out" || fail "view-sync-rest does not say the module is missing: $out"

step "version links: an MD5 hash chain over the logfiles"
on $n 'modprobe mars'
retry 30 on $n 'test -b /dev/mars/r0' || fail "/dev/mars/r0 did not come back"
on $n 'head -c 1048576 /dev/urandom > /tmp/x && dd if=/tmp/x of=/dev/mars/r0 bs=65536 seek=3200 conv=fsync status=none'
retry 10 on $n 'test -L /mars/resource-r0/version-000000002-node1' || fail "no version link for logfile 2"
v1=$(on $n 'readlink /mars/resource-r0/version-000000001-node1')
# The end of the records, not the file's size: the logger writes zeros ahead of them.
retry 10 on $n "test \"\$(readlink /mars/resource-r0/replay-node1)\" = log-000000002-node1,$(log_end $n /mars/resource-r0/log-000000002-node1),0" ||
  fail "replay link did not reach the end of logfile 2"
v2=$(on $n 'readlink /mars/resource-r0/version-000000002-node1')
echo "version-1: $v1"
echo "version-2: $v2"
size1=$(on $n 'stat -c %s /mars/resource-r0/log-000000001-node1')
size2=$(log_end $n /mars/resource-r0/log-000000002-node1)
md5() { on $n "printf '%s' '$1' | md5sum" | cut -d' ' -f1; }
assert_eq "$(md5 "1,node1,$size1:"),log-000000001-node1,$size1:" "$v1" "version link of logfile 1"
assert_eq "$(md5 "2,node1,$size2:$v1"),log-000000002-node1,$size2:${v1%%:*}" "$v2" "version link of logfile 2"

step "clean up"
on $n 'rmmod mars && rm -rf /mars/*'
echo ok
