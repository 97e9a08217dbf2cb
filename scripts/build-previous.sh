#!/usr/bin/env bash
# Build mars.ko and marsadm of the previous protocol version (the last commit that
# spoke it, named in testing/previous-protocol) for the testbed's default kernel, for
# the upgrade scenario (66-upgrade-protocol). The sources come from this repository's
# history (`git archive`), the build goes to a cache outside the checkout keyed by the
# commit and the kernel directory (whose path carries the kernel's own key), so a stale
# build is never used and a warm one costs nothing.
#
# usage: build-previous.sh KDIR OUTDIR
#   KDIR    the kernel mars.ko is built against (as for build-module.sh)
#   OUTDIR  gets links mars.ko, marsadm and protocol (the version they speak)
set -euo pipefail

kdir=$1 outdir=$2
top=$(cd "$(dirname "$0")/.." && pwd)
log() { printf 'build-previous: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

conf=$top/testing/previous-protocol
commit=$(sed -n 's/^commit *//p' "$conf")
protocol=$(sed -n 's/^protocol *//p' "$conf")
[[ $commit =~ ^[0-9a-f]{40}$ && $protocol =~ ^[0-9]+$ ]] || die "$conf names no commit and protocol"

cache=${MARS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mars}
key=$(printf '%s\n%s\n' "$commit" "$(realpath "$kdir")" | sha256sum | cut -c1-16)
final=$cache/previous-${commit:0:12}-$key

if [ ! -e "$final/done" ]; then
  if ! git -C "$top" cat-file -e "$commit^{commit}" 2>/dev/null; then
    # A shallow clone lacks the history: fetch the one commit from where it came from.
    log "commit ${commit:0:12} is not in this clone: fetching it from origin"
    git -C "$top" fetch --quiet --depth=1 origin "$commit" 2>/dev/null ||
      die "commit $commit (protocol $protocol, named in $conf) is not in this clone and cannot be fetched: clone the repository with its history"
  fi
  mkdir -p "$cache"
  exec 9>"$cache/previous.lock"
  flock 9
  if [ ! -e "$final/done" ]; then
    work=$final.tmp.$$
    rm -rf "$final" "$work"
    mkdir -p "$work/src"
    trap 'rm -rf "$work"' EXIT
    git -C "$top" archive "$commit" | tar -x -C "$work/src"
    log "mars.ko and marsadm of protocol $protocol (commit ${commit:0:12})"
    # The previous commit's own build script, against this kernel.
    "$work/src/scripts/build-module.sh" "$kdir" "$work/module" "$work/mars.ko"
    # Its marsadm, static as the testbed's (the crates come from cargo's cache).
    (cd "$work/src" && RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release --locked \
      --target x86_64-unknown-linux-gnu -p marsadm --target-dir "$cache/previous-target")
    install -m 0755 "$cache/previous-target/x86_64-unknown-linux-gnu/release/marsadm" "$work/marsadm"
    echo "$protocol" > "$work/protocol"
    rm -rf "$work/src" "$work/module"
    # A stock kernel's module build happens in its chroot, under the build path.
    [ ! -d "$kdir/root/build" ] || rm -rf "$kdir/root/build/${work#/}"
    touch "$work/done"
    mv "$work" "$final"
    trap - EXIT
  fi
  # Older builds of this kind (other commits or kernels) are not needed any more.
  for old in "$cache"/previous-*-*; do
    [ "$old" = "$final" ] || rm -rf "$old"
  done
fi

mkdir -p "$outdir"
for f in mars.ko marsadm protocol; do ln -sfn "$final/$f" "$outdir/$f"; done
log "$outdir: protocol $protocol (commit ${commit:0:12})"
