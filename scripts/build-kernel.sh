#!/usr/bin/env bash
# Build (or find in the cache) the project's 6.12 kernel: Debian's linux-source-6.12,
# unmodified (mars.ko needs no kernel patch: pre-patches/README), configured from
# scripts/kernel-6.12.config.
#
# The cache directory is keyed by everything that affects the result (source tarball,
# config fragment, this script, rustc and bindgen versions), so a changed input
# never reuses a stale tree. A tree counts only once its completion marker is written,
# so an interrupted build is never mistaken for a cached one. Builds into one cache
# are serialized by a lock.
#
# Prints the path of the built tree (usable as KDIR) on stdout.
set -euo pipefail

# stdout carries only the resulting path; everything else (including the kernel's own
# make, which prints "Entering directory" lines when run under another make) goes to stderr.
exec 3>&1 1>&2

top=$(cd "$(dirname "$0")/.." && pwd)
tarball=/usr/src/linux-source-6.12.tar.xz
fragment=$top/scripts/kernel-6.12.config
cache=${MARS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mars}
jobs=${JOBS:-$(nproc)}

log() { printf 'build-kernel: %s\n' "$*" >&2; }

[ -r "$tarball" ] || { log "missing $tarball (run scripts/setup.sh)"; exit 1; }

key=$(
  {
    stat -c '%s %Y' "$tarball"
    sha256sum "$fragment" "$0" | awk '{print $1}'
    rustc --version
    bindgen --version
  } | sha256sum | cut -c1-16
)
tree=$cache/kernel-$key
# One build at a time per cache: a second `make` (another checkout, say) waits here
# instead of removing the tree the first is building.
mkdir -p "$cache"
exec 9>"$cache/kernel.lock"
flock 9
if [ -f "$tree/.mars-complete" ]; then
  echo "$tree" >&3
  exit 0
fi

# A tree without the completion marker is the remains of an interrupted build.
rm -rf "$tree"
mkdir -p "$tree"
log "building kernel $key in $tree (about 7 minutes on 2 cores)"
tar -C "$tree" -xf "$tarball" --strip-components=1
cd "$tree"
make -s tinyconfig
scripts/kconfig/merge_config.sh -m -O . .config "$fragment" >/dev/null
make -s olddefconfig
# Every option the fragment asks for must have survived dependency resolution.
bad=0
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=*)
      grep -qxF "$line" .config || { log "config option not applied: $line"; bad=1; } ;;
    "# CONFIG_"*" is not set")
      opt=${line#\# }; opt=${opt%% *}
      if grep -q "^$opt=" .config; then log "config option not disabled: $opt"; bad=1; fi ;;
  esac
done < "$fragment"
[ "$bad" = 0 ] || exit 1

make -s rustavailable >/dev/null
make -s --no-print-directory -j"$jobs" bzImage modules
touch .mars-complete
# Remove older kernel builds: only the current key is ever used.
for old in "$cache"/kernel-*; do
  [ "$old" = "$tree" ] || rm -rf "$old"
done
log "kernel ready: $tree"
echo "$tree" >&3
