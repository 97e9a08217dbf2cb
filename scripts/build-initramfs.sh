#!/usr/bin/env bash
# Build the testbed nodes' root filesystem as an (uncompressed) initramfs.
#
# usage: build-initramfs.sh KDIR MARS_KO BINDIR OUT
#   KDIR     the kernel: a built kernel tree (for the release name and modules.builtin),
#            or a stock kernel directory of scripts/build-stock-kernel.sh (its release,
#            and its modules: the drivers the nodes need, with what they depend on)
#   MARS_KO  the module to install as /lib/modules/<release>/extra/mars.ko
#   BINDIR   directory with static marsadm, testbed-agent, mars-hostile, mars-writer and
#            mars-crashstate
#   OUT      the cpio archive to write
#
# Contents: busybox (static), kmod, our static binaries, and host tools the tests use
# (xfsprogs, e2fsprogs, fio, iproute2's ip and tc, drbd-utils, dmsetup, losetup, bash) with every shared
# library they link, copied from this Debian machine.
set -euo pipefail

kdir=$1 mars_ko=$2 bindir=$3 out=$4
top=$(cd "$(dirname "$0")/.." && pwd)
root=$(mktemp -d "${TMPDIR:-/tmp}/mars-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

if [ -d "$kdir/modules" ]; then
  release=$(cat "$kdir/release")
else
  release=$(cat "$kdir/include/config/kernel.release")
fi

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,tmp,run,root,mars,var/lib/drbd}

# busybox first; real tools copied below replace its applets of the same name.
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
  [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done

# Copy an executable and the shared libraries it needs, keeping their paths.
copy_with_libs() {
  local src=$1 dst=${2:-$1}
  rm -f "$root$dst"
  mkdir -p "$(dirname "$root$dst")"
  cp -L "$src" "$root$dst"
  # (scripts and static programs have no libraries: ldd and grep fail harmlessly)
  { ldd "$src" 2>/dev/null || true; } | { grep -o '/[^ ]*' || true; } | while read -r lib; do
    if [ ! -e "$root$lib" ]; then
      mkdir -p "$(dirname "$root$lib")"
      cp -L "$lib" "$root$lib"
    fi
  done
}

tools=(
  /usr/sbin/mkfs.xfs /usr/sbin/xfs_repair /usr/sbin/xfs_db /usr/sbin/xfs_io /usr/sbin/xfs_admin /usr/sbin/xfs_growfs
  /usr/sbin/mke2fs /usr/sbin/e2fsck /usr/sbin/tune2fs /usr/sbin/blkid
  /usr/bin/fio /usr/bin/bash /usr/bin/sha256sum /usr/bin/timeout
  /usr/sbin/drbdadm /usr/sbin/drbdsetup /usr/sbin/drbdmeta
  /usr/sbin/dmsetup /usr/sbin/blockdev /usr/sbin/blkdiscard /usr/sbin/losetup /usr/bin/flock
)
for t in "${tools[@]}"; do copy_with_libs "$t"; done
# /bin/sh is dash, as on Debian: busybox's ash runs its own applets (tc, ip, ...) even
# where PATH names the real tool.
copy_with_libs /usr/bin/dash /bin/dash
ln -sfn dash "$root/bin/sh"
ln -sf mke2fs "$root/usr/sbin/mkfs.ext4"
ln -sf e2fsck "$root/usr/sbin/fsck.ext4"
# iproute2: full ip and tc (netem) in place of busybox's applets.
copy_with_libs /usr/bin/ip /sbin/ip
copy_with_libs /usr/sbin/tc /sbin/tc
# kmod provides modprobe/insmod/rmmod/lsmod/modinfo.
copy_with_libs /usr/bin/kmod /bin/kmod
for t in modprobe insmod rmmod lsmod modinfo depmod; do
  rm -f "$root"/{usr/sbin,usr/bin,sbin,bin}/"$t"
  ln -s /bin/kmod "$root/sbin/$t"
done
# glibc's dynamic loader under both names programs ask for.
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
# drbd-utils looks for its versioned helpers here.
if [ -d /usr/lib/drbd ]; then
  mkdir -p "$root/usr/lib/drbd"
  for t in /usr/lib/drbd/*; do [ -x "$t" ] && [ -f "$t" ] && copy_with_libs "$t"; done
fi

# A real tool must win over busybox's applet of the same name wherever that applet
# sits in PATH (busybox's tc and ip lack netem and other options the tests need).
bindirs=(usr/local/sbin usr/local/bin usr/sbin usr/bin sbin bin)
for d in "${bindirs[@]}"; do
  for real in "$root/$d"/*; do
    [ -f "$real" ] && [ ! -L "$real" ] || continue
    name=${real##*/}
    for other in "${bindirs[@]}"; do
      link=$root/$other/$name
      if [ -L "$link" ] && [ "$(readlink "$link")" = /bin/busybox ]; then rm -f "$link"; fi
    done
  done
done

# Our own programs (static).
install -m 0755 "$bindir/marsadm" "$root/usr/sbin/marsadm"
install -m 0755 "$bindir/testbed-agent" "$root/sbin/testbed-agent"
# Test-only: the hostile peer of scenario 46 (never part of a MARS installation).
install -m 0755 "$bindir/mars-hostile" "$root/usr/sbin/mars-hostile"
# Test-only: writes numbered blocks and reports each acknowledged one (crash scenarios).
install -m 0755 "$bindir/mars-writer" "$root/usr/sbin/mars-writer"
# Test-only: power-loss crash states from a dm-log-writes log (scenario 15).
install -m 0755 "$bindir/mars-crashstate" "$root/usr/sbin/mars-crashstate"
# Test-only: the plain TCP copy `make bench` compares fetch with.
install -m 0755 "$bindir/bench-tcp-copy" "$root/usr/sbin/bench-tcp-copy"

# The module, found by `modprobe mars`.
moddir=$root/lib/modules/$release
mkdir -p "$moddir/extra"
install -m 0644 "$mars_ko" "$moddir/extra/mars.ko"
if [ -d "$kdir/modules" ]; then
  # A stock kernel builds most drivers as modules: those of the nodes' devices and
  # what the tests use (rc.node loads the devices' drivers, the kernel asks modprobe
  # for the rest), each with the modules it depends on; the crypto API's algorithms
  # and the libraries and qdiscs whole (loaded by name on demand).
  wanted=(virtio_blk virtio_net ext4 xfs loop dm_mod dm_flakey dm_delay dm_log_writes drbd)
  view=$(mktemp -d "${TMPDIR:-/tmp}/mars-modules.XXXXXX")
  mkdir -p "$view/lib/modules"
  ln -s "$kdir/modules" "$view/lib/modules/$release"
  list=$view/list
  for m in "${wanted[@]}"; do
    modprobe -d "$view" -S "$release" --show-depends "$m" > "$view/deps" ||
      { echo "build-initramfs: module $m missing in $kdir/modules" >&2; exit 1; }
    sed -n "s|^insmod $view/lib/modules/$release/\([^ ]*\).*|\1|p" "$view/deps" >> "$list"
  done
  (cd "$kdir/modules" && find kernel/crypto kernel/arch/x86/crypto kernel/lib kernel/net/sched -name '*.ko*') >> "$list"
  # Uncompressed: the stock kernel's modules are .ko.xz, and decompressing them at every
  # boot under TCG took several seconds of emulated CPU per node (depmod below lists
  # them as .ko).
  sort -u "$list" | while read -r m; do
    mkdir -p "$moddir/$(dirname "$m")"
    case $m in
      *.ko.xz) xz -dc "$kdir/modules/$m" > "$moddir/${m%.xz}" ;;
      *) cp "$kdir/modules/$m" "$moddir/$m" ;;
    esac
  done
  rm -rf "$view"
  for f in modules.builtin modules.builtin.modinfo modules.order modules.softdep; do
    cp "$kdir/modules/$f" "$moddir/"
  done
else
  for f in modules.builtin modules.builtin.modinfo modules.order; do
    [ -e "$kdir/$f" ] && cp "$kdir/$f" "$moddir/"
  done
fi
depmod -b "$root" "$release"

# Boot scripts and minimal system files.
install -m 0755 "$top/testing/guest/init" "$root/init"
install -m 0755 "$top/testing/guest/rc.node" "$root/etc/rc.node"
install -m 0644 "$top/testing/guest/inittab" "$root/etc/inittab"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
echo 'hosts: files' > "$root/etc/nsswitch.conf"
# The types busybox mount tries when none is given (testing/guest/rc.node: xfs is not
# loaded before a mount asks for it).
printf 'ext4\nxfs\n' > "$root/etc/filesystems"
: > "$root/etc/fstab"
ln -sf /proc/mounts "$root/etc/mtab"

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
echo "build-initramfs: $out ($(du -h "$out" | cut -f1)), kernel $release" >&2
