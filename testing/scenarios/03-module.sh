#!/usr/bin/env bash
# mars.ko loads and unloads cleanly on both nodes; /proc/sys/mars/version is readable,
# read-only, and agrees with marsadm; at load it times the kernel's implementations of
# CRC32C and HMAC-SHA256 and says which it took (kernel/digest.rs).
# testbed-kernels: 7.3 6.12  (the 6.12 subset: docu/install.md, "Supported kernels")
source "$(dirname "$0")/../lib.sh"

for n in node1 node2; do
  want=$(on $n 'marsadm --version' | awk '{print $2}')
  for round in 1 2 3; do
    step "$n round $round: load"
    on $n 'modprobe mars'
    on $n 'lsmod' | grep -q '^mars ' || fail "$n: mars not in lsmod after modprobe"
    assert_eq "$want" "$(on $n 'cat /proc/sys/mars/version')" "$n: /proc/sys/mars/version"
    on $n 'dmesg' | grep -q "mars: version $want loaded" || fail "$n: no load message in dmesg"
    on $n "marsadm version" | grep -qx "mars.ko $want" || fail "$n: marsadm version does not see the module"
    if [ $round = 1 ]; then
      picks=$(on $n 'dmesg' | grep -E 'mars: (CRC32C|HMAC-SHA256) by ')
      echo "$picks"
      case $(on $n 'uname -r') in
        6.12.*)
          # The choice follows kernel/digest.rs's rule on the rates it measured: another
          # than the first (the SSE4.2 instruction) only if faster and 1.25 x as fast.
          # Under TCG the plain C one mostly is, several times; but timing on a busy
          # host varies (once 140 against 167 MB/s: the instruction kept).
          crc=$(grep -o 'mars: CRC32C by [^ ]* (MB/s: crc32c-intel [0-9]*, crc32c-generic [0-9]*)' <<<"$picks") ||
            fail "$n: no CRC32C choice in dmesg"
          read -r by intel generic < <(sed 's/.* by \([^ ]*\) (MB\/s: crc32c-intel \([0-9]*\), crc32c-generic \([0-9]*\))/\1 \2 \3/' <<<"$crc")
          want_by=crc32c-intel
          [ "$generic" -gt "$intel" ] && [ $((generic * 4)) -gt $((intel * 5)) ] && want_by=crc32c-generic
          assert_eq "$want_by" "$by" "$n: the CRC32C choice for $intel (crc32c-intel) and $generic (crc32c-generic) MB/s"
          grep -q 'mars: HMAC-SHA256 by hmac(sha256-[a-z0-9]*) (MB/s: hmac(sha256-avx2) [0-9]*, .*hmac(sha256-generic) [0-9]*)' <<<"$picks" \
            || fail "$n: no HMAC-SHA256 choice in dmesg" ;;
        *)
          # On 7.x the crypto API has one driver per algorithm, its library's,
          # which picks the CPU's instructions itself: nothing to choose from.
          grep -q 'mars: CRC32C by crc32c-lib (MB/s: crc32c-lib [0-9]*)' <<<"$picks" \
            || fail "$n: no CRC32C choice in dmesg"
          grep -q 'mars: HMAC-SHA256 by hmac-sha256-lib (MB/s: hmac-sha256-lib [0-9]*)' <<<"$picks" \
            || fail "$n: no HMAC-SHA256 choice in dmesg" ;;
      esac
    fi
    on $n 'echo 9.9.9 > /proc/sys/mars/version' 2>/dev/null && fail "$n: /proc/sys/mars/version is writable"
    assert_eq "$want" "$(on $n 'cat /proc/sys/mars/version')" "$n: version after write attempt"

    step "$n round $round: unload"
    on $n 'rmmod mars'
    on $n 'lsmod' | grep -q '^mars ' && fail "$n: mars still loaded after rmmod"
    on $n 'test ! -e /proc/sys/mars' || fail "$n: /proc/sys/mars left behind"
    on $n 'dmesg' | grep -q "mars: version $want unloading" || fail "$n: no unload message"
    on $n "marsadm version" | grep -q "mars.ko not loaded" || fail "$n: marsadm version still sees the module"
  done
done

step "marsadm: help, version, unknown command"
on node1 'marsadm --help' | grep -q 'Usage: marsadm' || fail "marsadm --help"
expect_status 2 on node1 'marsadm frobnicate'
on node1 'marsadm frobnicate 2>&1; true' | grep -q "unrecognized subcommand 'frobnicate'" || fail "unknown command message"
on node1 'marsadm version --json' | grep -q '"schema_version": 1' || fail "version --json"
echo "ok"
