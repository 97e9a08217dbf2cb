#!/usr/bin/env bash
# Build (or find in the cache) the debug kernel: Debian's linux-source-7.3 at the
# version of the stock kernel (scripts/stock-kernel.conf), unmodified, configured with
# tinyconfig + scripts/kernel-7.3-debug.config (KASAN, lockdep, atomic-sleep checks,
# hung-task detection, kmemleak; every driver the nodes need built in).
#
# KASAN together with Rust needs a clang-built kernel (init/Kconfig: RUST depends on
# !KASAN || CC_IS_CLANG). The build runs in a copy of the stock kernel's toolchain chroot
# (scripts/build-stock-kernel.sh: rustc 1.85.1, the rustc that built Debian's 7.3 kernel,
# and bindgen), with trixie's clang/lld/llvm added; clang and rustc share LLVM 19
# (checked).
#
# The directory D it prints has the layout of a stock kernel directory, so
# scripts/build-module.sh builds mars.ko in its chroot with the same compilers:
#   root/       the chroot; root/usr/src/linux-7.3 the source, root/kdir the built tree
#               (O=/kdir; its Makefile sets LLVM=1 for out-of-tree modules)
#   chroot      runs a command in root/ with /proc mounted (as the stock directory's)
#   vmlinuz     the bzImage; release: uname -r; info: versions and timings
#
# The cache directory is keyed by this script, the fragment, the stock kernel's
# conf and its directory (which is keyed itself); it is built under a temporary name and
# renamed once complete, so an interrupted build is never used. One build at a time.
# The build runs under `nice -n 15` (NICE overrides).
set -euo pipefail
exec 3>&1 1>&2

top=$(cd "$(dirname "$0")/.." && pwd)
conf=${STOCK_KERNEL_CONF:-$top/scripts/stock-kernel.conf}
fragment=$top/scripts/kernel-7.3-debug.config
cache=${MARS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mars}
jobs=${JOBS:-$(nproc)}
nice=${NICE:-15}

log() { printf 'build-debug-kernel: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# shellcheck source=stock-kernel.conf
. "$conf"
line=${KERNEL_SOURCE#linux-source-}

# The stock directory first: its chroot is the starting point.
stock=$("$top/scripts/build-stock-kernel.sh")
[ -x "$stock/chroot" ] && [ -d "$stock/root" ] || die "no stock kernel directory ($stock)"

key=$({ sha256sum "$0" "$fragment" "$conf" | awk '{print $1}'; basename "$stock"; } | sha256sum | cut -c1-16)
final=$cache/debug-kernel-$line-$key
finish() { echo "$1" >&3; exit 0; }
[ -f "$final/.mars-complete" ] && finish "$final"

mkdir -p "$cache"
exec 9>"$cache/debug-kernel.lock"
flock 9
[ -f "$final/.mars-complete" ] && finish "$final"
for old in "$cache"/debug-kernel-"$line"-*.tmp.*; do
  [ -e "$old" ] && rm -rf --one-file-system "$old"
done
work=$(mktemp -d "$final.tmp.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
root=$work/root
log "building the debug kernel ($KERNEL_SOURCE $KERNEL_VERSION) in $final (about 40 minutes on 2 cores)"

timings=()
t0=$EPOCHREALTIME
begin=$t0
lap() {
  local now=$EPOCHREALTIME dt
  dt=$(awk "BEGIN{printf \"%.1f\", $now-$t0}")
  timings+=("time_$1=${dt}s")
  log "$1: ${dt} s"
  t0=$now
}
# As the stock script's inroot: own mount and PID namespace with /proc, clean environment.
inroot() {
  unshare --mount --pid --fork --mount-proc="$root/proc" chroot "$root" \
    /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C "$@"
}

# --- 1. the chroot: a copy of the stock one, plus clang, lld and llvm ------------------
# (not its build/: the module builds of other checkouts, some under way)
rsync -a --exclude=/build "$stock/root/" "$root/"
cp "$stock/chroot" "$work/chroot"
# The chroot's apt (its own sources: the suites of stock-kernel.conf) checks the
# indexes against the signed Release files and every .deb against the indexes.
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# (No pty in the chroot for dpkg's log; the download is root's: no _apt user for /usr/src.)
apt=(apt-get -qq -o Dpkg::Use-Pty=0 -o APT::Sandbox::User=root)
inroot "${apt[@]}" update
inroot env DEBIAN_FRONTEND=noninteractive "${apt[@]}" -y --no-install-recommends install clang lld llvm >/dev/null
inroot sh -c "cd /usr/src && ${apt[*]} download $KERNEL_SOURCE=$KERNEL_VERSION"
rustc_llvm=$(inroot rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
clang_llvm=$(inroot clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p')
[ -n "$rustc_llvm" ] && [ "$rustc_llvm" = "$clang_llvm" ] \
  || die "rustc's LLVM ($rustc_llvm) is not clang's ($clang_llvm)"
lap chroot

# --- 2. the source, configured ------------------------------------------------------------
src=/usr/src/linux-$line
# (the copied /kdir is the stock kernel's header overlay: this kernel's tree replaces it)
rm -rf "$root/kdir"
mkdir -p "$root$src" "$root/kdir"
deb=("$root"/usr/src/"$KERNEL_SOURCE"_*.deb)
[ -f "${deb[0]}" ] || die "$KERNEL_SOURCE=$KERNEL_VERSION was not downloaded"
dpkg-deb --fsys-tarfile "${deb[0]}" | tar -xO "./usr/src/$KERNEL_SOURCE.tar.xz" \
  | tar -C "$root$src" -xJ --strip-components=1
rm -f "${deb[@]}"
cp "$fragment" "$root/kdir/debug.config"
mk() { inroot nice -n "$nice" make -s -C "$src" O=/kdir LLVM=1 "$@"; }
mk tinyconfig
inroot sh -c "cd /kdir && $src/scripts/kconfig/merge_config.sh -m -O . .config debug.config >/dev/null"
mk olddefconfig
# Every option the fragment asks for must have survived dependency resolution.
bad=0
while IFS= read -r l; do
  case "$l" in
    CONFIG_*=*)
      grep -qxF "$l" "$root/kdir/.config" || { log "config option not applied: $l"; bad=1; } ;;
    "# CONFIG_"*" is not set")
      opt=${l#\# }; opt=${opt%% *}
      if grep -q "^$opt=" "$root/kdir/.config"; then log "config option not disabled: $opt"; bad=1; fi ;;
  esac
done < "$fragment"
[ "$bad" = 0 ] || exit 1
lap config

# --- 3. build -------------------------------------------------------------------------------
mk rustavailable >/dev/null
mk -j"$jobs" bzImage modules > "$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log" >&2; die "kernel build failed"; }
lap build

# Out-of-tree modules (mars.ko) are built with `make -C /kdir M=...`: with clang too.
cat > "$root/kdir/Makefile" <<EOF
# Written by scripts/build-debug-kernel.sh: this kernel is built with clang (LLVM=1);
# out-of-tree modules must be too.
export LLVM = 1
export KBUILD_OUTPUT = /kdir
include $src/Makefile
EOF
cp "$root/kdir/arch/x86/boot/bzImage" "$work/vmlinuz"
cat "$root/kdir/include/config/kernel.release" > "$work/release"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root/kdir/debug.config"
{
  echo "release=$(cat "$work/release")"
  echo "key=$key"
  echo "stock=$stock"
  echo "source=$KERNEL_SOURCE=$KERNEL_VERSION"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "rustc=$(inroot rustc --version)"
  echo "clang=$(inroot clang --version | head -1)"
  printf '%s\n' "${timings[@]}"
  echo "time_total=$(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME-$begin}")s"
} > "$work/info"
touch "$work/.mars-complete"
chmod 0755 "$work"
mv -T "$work" "$final"
trap - EXIT
for old in "$cache"/debug-kernel-"$line"-*; do
  case $old in "$final" | *.tmp.* | *.lock) continue ;; esac
  log "removing $old"
  rm -rf --one-file-system "$old"
done
log "debug kernel ready: $final ($(grep '^time_total=' "$final/info" | cut -d= -f2))"
finish "$final"
