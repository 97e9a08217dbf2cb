#!/usr/bin/env bash
# Build mars.ko for one kernel, out of tree, in a build directory of its own.
#
# usage: build-module.sh KDIR BUILDDIR OUT
#   KDIR      a kernel tree to build against: a built source tree (the project's 6.12),
#             or a stock kernel directory made by scripts/build-stock-kernel.sh (its
#             chroot holds the rustc that built that kernel and the headers overlay;
#             its script `chroot` runs a command there with /proc mounted)
#   BUILDDIR  where the module's sources are mirrored and built (one per kernel: Kbuild
#             writes its objects beside the sources, so two kernels never share one)
#   OUT       where to put mars.ko
#
# Only the module's sources (Kbuild, *.rs, *.c, *.h under kernel/) are mirrored; the
# objects of the last build stay, so Kbuild rebuilds only what changed.
set -euo pipefail

kdir=$1 builddir=$(realpath -m "$2") out=$3
top=$(cd "$(dirname "$0")/.." && pwd)
log() { printf 'build-module: %s\n' "$*" >&2; }

mirror() {
  mkdir -p "$1"
  cp "$top/Kbuild" "$1/Kbuild.new" && mv "$1/Kbuild.new" "$1/Kbuild"
  rsync -a --delete --include='*/' --include='Kbuild' --include='*.rs' --include='*.c' \
    --include='*.h' --exclude='*' --exclude='/core/fuzz/' --prune-empty-dirs \
    "$top/kernel/" "$1/kernel/"
}

# Kbuild's own error for a symbol the kernel does not export ("modpost: ... undefined!")
# names the symbol but not the cause; say it.
run_make() {
  local log_file=$1; shift
  if ! "$@" 2>&1 | tee "$log_file" >&2; then
    if grep -q 'modpost: .*undefined!' "$log_file"; then
      log "mars.ko uses kernel symbols that $kdir does not export (listed above);"
      log "the kernel's rust/ build artifacts do not match its Module.symvers, or the kernel lacks a feature mars.ko needs"
    fi
    return 1
  fi
}

if [ -d "$kdir/root/kdir" ]; then
  # A stock kernel: build inside its chroot, with its rustc, against its headers.
  root=$kdir/root
  rel=${builddir#/}
  mirror "$root/build/$rel"
  run_make "$builddir.log" "$kdir/chroot" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    make -s -C /kdir M="/build/$rel" modules
  install -m 0644 "$root/build/$rel/kernel/mars.ko" "$out"
else
  mirror "$builddir"
  run_make "$builddir.log" make -s -C "$kdir" M="$builddir" modules
  install -m 0644 "$builddir/kernel/mars.ko" "$out"
fi
log "$out for $(modinfo -F vermagic "$out" | cut -d' ' -f1)"
