#!/usr/bin/env bash
# Build (or find in the cache) the root disk of Debian testbed nodes (testbed up --image
# debian): a minimal Debian 13 (trixie) made with mmdebstrap from Debian's packages,
# systemd as PID 1, and Debian's stock kernel installed as a Debian 13 user installs it
# (linux-image-<release> from trixie-backports, with initramfs-tools), as a raw ext4
# image. Nodes boot it through a per-node qcow2 overlay, so the cached image is never
# written, with that kernel and initrd (copied beside the image).
#
# usage: build-debian-image.sh STOCK
#   STOCK  the stock kernel directory of scripts/build-stock-kernel.sh: its .debs are
#          the ones installed (so the image's kernel is the busybox nodes' 7.3 kernel)
#
# Nothing of this checkout's build is in it (no mars.ko, no marsadm, no testbed agent):
# the testbed hands those to a node on its read-only seed disk (scripts/build-debian-seed.sh),
# and .deb packages are installed into a node with apt or dpkg.
#
# The cache directory is keyed by every input (this script with its package list and
# suite, the guest files in testing/guest/debian/, the kernel packages), so a changed
# input never reuses a stale image; it is built under a temporary name and renamed when
# complete, so an interrupted build is never used. Package versions are what the mirror
# has at build time, the kernel's those of the stock kernel directory.
#
# Prints the path of the image's directory on stdout: root.img, vmlinuz, initrd.img,
# release.
set -euo pipefail
exec 3>&1 1>&2

stock=${1:?usage: build-debian-image.sh STOCK_KERNEL_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${MARS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mars}
guest=$top/testing/guest/debian

SUITE=trixie
MIRROR=http://deb.debian.org/debian
IMAGE_MIB=2048
PACKAGES=(
  systemd systemd-sysv udev kmod dpkg apt initramfs-tools
  xfsprogs e2fsprogs iproute2 util-linux procps
)
release=$(cat "$stock/release")
kernel_debs=("$stock"/debs/linux-{image,binary,modules,base}-"$release"_*.deb)

log() { printf 'build-debian-image: %s\n' "$*" >&2; }

key=$(
  {
    sha256sum "$0" "$guest"/* "${kernel_debs[@]}" | awk '{print $1}'
    echo "$SUITE $MIRROR $IMAGE_MIB ${PACKAGES[*]}"
  } | sha256sum | cut -c1-16
)
final=$cache/debian-$key
if [ -f "$final/root.img" ]; then
  touch "$final/last-used"
  echo "$final" >&3
  exit 0
fi

command -v mmdebstrap >/dev/null || { log "mmdebstrap missing (run scripts/setup.sh)"; exit 1; }
mkdir -p "$cache"
work=$(mktemp -d "$cache/debian-$key.tmp.XXXXXX")
# (--one-file-system: should mmdebstrap be interrupted with /proc or /dev mounted in
# the tree, those stay untouched.)
trap 'rm -rf --one-file-system "$work"' EXIT
root=$work/root
start=$SECONDS
log "building Debian $SUITE image $key in $final (a few minutes)"

mmdebstrap --quiet --mode=root --variant=apt --format=directory \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --aptopt='Acquire::Languages "none"' \
  "$SUITE" "$root" "$MIRROR"

# --- the stock kernel, as a user installs it --------------------------------------------
# The initrd needs only what mounts the root disk (a virtio disk, ext4): a small one
# unpacks in a second under TCG, the default (MODULES=most) takes much longer.
mkdir -p "$root/etc/initramfs-tools"
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
printf 'virtio_blk\next4\n' >> "$root/etc/initramfs-tools/modules"
mkdir -p "$root/tmp/kernel-debs"
cp "${kernel_debs[@]}" "$root/tmp/kernel-debs/"
echo "deb $MIRROR $SUITE-backports main" > "$root/etc/apt/sources.list.d/backports.list"
mount -t proc proc "$root/proc"
if ! chroot "$root" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t $SUITE-backports /tmp/kernel-debs/*.deb" >&2; then
  umount "$root/proc"
  log "cannot install the stock kernel packages into the image"
  exit 1
fi
# The kernel's modules uncompressed (as in the busybox nodes' initramfs): under TCG,
# every xz module costs its decompression at each load, and `depmod -a` (mars-module's
# postinst) reads all 4000 of them: the package install took 71 s of host CPU per node
# with .ko.xz, 44 s with .ko (docu/testbed.md). Same modules, same bytes once loaded;
# modules.dep and the initrd are made again for the new names.
find "$root/usr/lib/modules/$release" -name '*.ko.xz' -exec unxz {} +
# Only the modules a testbed node can use stay: filesystems, networking (netfilter,
# qdiscs), crypto, device mapper, the virtio and block drivers, with every module they
# depend on (modules.dep lists the whole closure). The rest (GPU, sound, wireless, media,
# USB, ...: 450 of 590 MB) drives no device a node has, and `depmod -a`, which every
# package install runs, read it all: 28 s of emulated CPU per node.
(
  cd "$root/usr/lib/modules/$release"
  keep='^kernel/((arch|block|crypto|fs|lib|mm|net|virt)/|drivers/(block|md|virtio|char)/|drivers/net/[^/]+\.ko$)'
  sed 's/\.xz//g' modules.dep | awk -F'[: ]+' -v keep="$keep" '$1 ~ keep { for (i = 1; i <= NF; i++) if ($i != "") print $i }' | sort -u > "$work/keep"
  find kernel -name '*.ko' | sort | comm -23 - "$work/keep" | xargs -r rm -f
  find kernel -type d -empty -delete
)
# udev's coldplug loads a driver for every emulated device; these drive nothing the
# testbed uses (qemu's IDE, floppy and SMBus controllers, PC speaker, PS/2 mouse,
# nested KVM) and each load costs seconds of emulated CPU, after the boot too.
# (blacklist: not loaded by alias, i.e. by udev; modprobe by name still works; in the
# initrd too, made below.)
printf 'blacklist %s\n' kvm_amd kvm_intel ccp ata_piix ata_generic floppy pcspkr i2c_piix4 \
  psmouse serio_raw > "$root/etc/modprobe.d/mars-testbed.conf"
if ! chroot "$root" sh -c "depmod -a $release && update-initramfs -u -k $release" >&2; then
  umount "$root/proc"
  log "cannot make modules.dep and the initrd for the uncompressed modules"
  exit 1
fi
umount "$root/proc"
rm -rf "$root/tmp/kernel-debs"
cp "$root/boot/vmlinuz-$release" "$work/vmlinuz"
cp "$root/boot/initrd.img-$release" "$work/initrd.img"
echo "$release" > "$work/release"
# The image boots the stock kernel's own vmlinuz (same package, same bytes).
cmp -s "$work/vmlinuz" "$stock/vmlinuz" || { log "the image's vmlinuz differs from $stock/vmlinuz"; exit 1; }

# --- configuration -------------------------------------------------------------------
# Identity: hostname from the kernel command line (systemd.hostname=nodeK); every node
# knows every node name (MAX_NODES in the testbed) by its replication address.
rm -f "$root/etc/hostname"
{
  echo "127.0.0.1 localhost"
  for i in $(seq 1 8); do echo "10.77.0.$i node$i"; done
} > "$root/etc/hosts"
# Each node generates its own machine id at first boot (in its overlay).
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# Root without a password on the serial console would be a login; there is none
# (getty is masked): the way in is testbed exec.

# /mars: the transaction log filesystem (ext4, made by the testbed), like rc.node.
# nofail: the boot does not wait for it, but its mount job does wait for the disk, and
# the boot counts as finished (testbed up) only once that job is done. Under TCG with
# several nodes booting, udev has announced vdc 35 s after the job was queued: a
# shorter device timeout ended the job without mounting, and nothing mounted /mars later.
mkdir -p "$root/mars"
cat > "$root/etc/fstab" <<'FSTAB'
# The root disk is /dev/vdf (the testbed's per-node overlay), mounted rw by the kernel.
/dev/vdc  /mars  ext4  defaults,nofail,x-systemd.device-timeout=300s  0 0
FSTAB

# Node setup and the testbed agent, both early in sysinit.
install -m 0755 "$guest/mars-node-setup" "$root/usr/local/sbin/mars-node-setup"
install -m 0644 "$guest/mars-node-setup.service" "$guest/testbed-agent.service" "$root/etc/systemd/system/"
mkdir -p "$root/etc/systemd/system/sysinit.target.wants"
ln -sf ../mars-node-setup.service "$root/etc/systemd/system/sysinit.target.wants/"
ln -sf ../testbed-agent.service "$root/etc/systemd/system/sysinit.target.wants/"
# This checkout's static marsadm (seed disk) as a fallback: /usr/bin comes after
# /usr/sbin in PATH, so the marsadm of an installed package wins.
ln -sf /run/mars-seed/marsadm "$root/usr/bin/marsadm"

# Interface names are set by mars-node-setup (by MAC), not by udev.
mkdir -p "$root/etc/systemd/network"
ln -sf /dev/null "$root/etc/systemd/network/99-default.link"

# A fast boot under TCG: no logins, no timers, nothing periodic; nothing that cannot
# work here (logind needs D-Bus, which is not installed; binfmt_misc needs autofs and
# is not in the kernel; firstboot would prompt on the console for a first boot, which
# every node's is: /etc/machine-id is empty in the image).
mask() { ln -sf /dev/null "$root/etc/systemd/system/$1"; }
for u in getty@.service serial-getty@.service console-getty.service getty.target \
         systemd-timesyncd.service systemd-networkd-wait-online.service \
         apt-daily.service apt-daily-upgrade.service e2scrub_reap.service \
         systemd-pstore.service systemd-firstboot.service \
         systemd-logind.service proc-sys-fs-binfmt_misc.automount systemd-binfmt.service; do
  mask "$u"
done
for t in "$root"/lib/systemd/system/*.timer; do
  [ -e "$t" ] && mask "${t##*/}"
done
# Generators run at every boot and at every daemon-reload (marsadm instantiating unit
# templates, mars-tools' postinst): each is a process that costs about 0.25 s of emulated
# CPU, and a reload took 11 s with all of them, 6 to 8 s without. Only the fstab
# generator (/mars from /etc/fstab) has work here.
mkdir -p "$root/etc/systemd/system-generators"
for g in "$root"/lib/systemd/system-generators/*; do
  [ "${g##*/}" = systemd-fstab-generator ] || ln -sf /dev/null "$root/etc/systemd/system-generators/${g##*/}"
done
# Coldplug (udev's rules and drivers for every device present at boot) only for the
# block devices (/mars, the root and seed disks: systemd waits for their device units)
# and NICs: the rest drives nothing the testbed uses, and coldplug with all of them
# cost 50 s of emulated CPU in udevd per boot. Hotplug (dm targets, /dev/mars/*) is
# udev's as always.
mkdir -p "$root/etc/systemd/system/systemd-udev-trigger.service.d"
printf '[Service]\nExecStart=\nExecStart=-udevadm trigger --type=all --action=add --subsystem-match=block --subsystem-match=net\n' \
  > "$root/etc/systemd/system/systemd-udev-trigger.service.d/mars-testbed.conf"
# The journal in memory only (the root disk is a throw-away overlay anyway).
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' > "$root/etc/systemd/journald.conf.d/mars-testbed.conf"
rm -rf "$root/var/log/journal"
# dpkg -i of our packages needs no apt lists; keep the image small.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb

# What systemd does at a first boot after /usr changed (ConditionNeedsUpdate: ldconfig,
# the journal's message catalog, system users) is done once here, not at every node's
# boot (each boots a fresh overlay of this image); /etc/.updated and /var/.updated, as
# systemd-update-done writes them, say that /usr has not changed since.
chroot "$root" sh -c 'ldconfig && journalctl --update-catalog && systemd-sysusers' >&2
for f in "$root/etc/.updated" "$root/var/.updated"; do
  printf 'TIMESTAMP_NSEC=%s\n' "$(stat -c %.9Y "$root/usr" | tr -d .)" > "$f"
  touch -r "$root/usr" "$f"
done

# --- the disk image --------------------------------------------------------------------
truncate -s "${IMAGE_MIB}M" "$work/root.img"
mkfs.ext4 -q -F -L debian-root -d "$root" "$work/root.img"
rm -rf "$root"
chmod 0444 "$work/root.img"
touch "$work/last-used"
chmod 0755 "$work"
mv -T "$work" "$final"
trap - EXIT
# Images of other keys are removed once unused for 3 days (other checkouts may use them).
# (A running node's overlay holds its image open: removing it does not disturb the node.)
for old in "$cache"/debian-*; do
  case $old in "$final" | *.tmp.*) continue ;; esac
  if [ -z "$(find "$old/last-used" -mtime -3 2>/dev/null)" ]; then rm -rf --one-file-system "$old"; fi
done
log "image ready: $final/root.img ($(du -h "$final/root.img" | cut -f1) used, $((SECONDS - start)) s)"
echo "$final" >&3
