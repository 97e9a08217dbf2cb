#!/usr/bin/env bash
# `make deb`: Debian packages from a staged tree, built with dpkg-deb (docu/packaging.md).
#
#   mars-tools_<version>_amd64.deb                marsadm, man pages, completions, udev
#                                                 rule, systemd units and templates
#   mars-module-<release>_<version>_amd64.deb     mars.ko for kernel <release>
#
# Inputs (make deb builds them first): the static marsadm in $MARS_BIN_DIR, build/mars.ko
# and build/kdir (the kernel tree it was built against, which names <release>), and
# whatever systemd/ holds when this runs (no systemd/: a package without units).
# Output: $MARS_DEB_OUT (default build/deb), the .deb files only.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${MARS_BIN_DIR:-$top/target/x86_64-unknown-linux-gnu/release}
out=${MARS_DEB_OUT:-$top/build/deb}
module=${MARS_MODULE:-$top/build/mars.ko}
kdir=${MARS_KDIR:-$(cat "$top/build/kdir" 2>/dev/null || true)}
systemd_dir=${MARS_SYSTEMD_DIR:-$top/systemd}

log() { printf 'build-deb: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$bin_dir/marsadm" ] || die "no $bin_dir/marsadm (run make userland)"
[ -f "$module" ] || die "no $module (run make module)"
[ -f "$kdir/include/config/kernel.release" ] || die "no kernel tree at '$kdir' (build/kdir; run make kernel)"
release=$(cat "$kdir/include/config/kernel.release")

# Version: the workspace version from Cargo.toml; at a commit tagged v<version> exactly
# that, otherwise <version>+git<commits>.g<hash> (commit count first, so later commits
# of one branch sort higher), with .dirty for uncommitted changes.
base=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$top/Cargo.toml")
[ -n "$base" ] || die "no version in Cargo.toml [workspace.package]"
version=$base
if git -C "$top" rev-parse -q --verify HEAD >/dev/null 2>&1; then
  if [ "$(git -C "$top" describe --tags --exact-match 2>/dev/null || true)" != "v$base" ]; then
    version="$base+git$(git -C "$top" rev-list --count HEAD).g$(git -C "$top" rev-parse --short=7 HEAD)"
  fi
  git -C "$top" diff --quiet HEAD -- 2>/dev/null || version="$version.dirty"
fi

# Maintainer: MARS_DEB_MAINTAINER, else a fixed address (no person's).
maintainer=${MARS_DEB_MAINTAINER:-MARS-rs maintainers <mars-rs@example.org>}

stage=$(mktemp -d "${TMPDIR:-/tmp}/mars-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"

# Fixed owner and times: packages depend only on their inputs.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}

# The common parts of a binary package: copyright, changelog, md5sums, control.
finish() { # finish ROOT NAME CONTROL-FIELDS...
  local root=$1 name=$2
  shift 2
  local doc=$root/usr/share/doc/$name
  mkdir -p "$doc"
  {
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: MARS-rs"
    echo
    echo "Files: *"
    echo "Copyright: $(date -u +%Y -d "@$SOURCE_DATE_EPOCH") the MARS-rs authors"
    echo "License: GPL-2.0-only"
    echo " On Debian systems, the full text of the GNU General Public License version 2"
    echo " can be found in the file /usr/share/common-licenses/GPL-2."
  } > "$doc/copyright"
  {
    echo "$name ($version) unstable; urgency=medium"
    echo
    echo "  * Built from $(git -C "$top" rev-parse --short=12 HEAD 2>/dev/null || echo 'an unversioned tree')."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
  } | gzip -9n > "$doc/changelog.gz"
  mkdir -p "$root/DEBIAN"
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: amd64"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)"
    printf '%s\n' "$@"
  } > "$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0r md5sum) > "$root/DEBIAN/md5sums"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  local deb=$out/${name}_${version}_amd64.deb
  rm -f "$out/${name}"_*_amd64.deb
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
  log "built $deb"
}

# ---- mars-tools
tools=$stage/mars-tools
install -D -m 0755 "$bin_dir/marsadm" "$tools/usr/sbin/marsadm"
strip --strip-unneeded "$tools/usr/sbin/marsadm"
# A static PIE has no NEEDED entries, which lintian takes for a shared library's.
install -D -m 0644 "$top/packaging/mars-tools.lintian-overrides" "$tools/usr/share/lintian/overrides/mars-tools"
"$bin_dir/marsadm" generate-docs "$stage/docs"
mkdir -p "$tools/usr/share/man/man8"
for page in "$stage"/docs/man8/*.8; do
  gzip -9n < "$page" > "$tools/usr/share/man/man8/$(basename "$page").gz"
done
install -D -m 0644 "$stage/docs/completions/marsadm" "$tools/usr/share/bash-completion/completions/marsadm"
install -D -m 0644 "$stage/docs/completions/_marsadm" "$tools/usr/share/zsh/vendor-completions/_marsadm"
install -D -m 0644 "$top/packaging/udev/60-mars.rules" "$tools/lib/udev/rules.d/60-mars.rules"
units=0
if [ -d "$systemd_dir" ]; then
  for unit in "$systemd_dir"/*.service "$systemd_dir"/*.path "$systemd_dir"/*.timer "$systemd_dir"/*.mount "$systemd_dir"/*.target; do
    [ -f "$unit" ] || continue
    install -D -m 0644 "$unit" "$tools/lib/systemd/system/$(basename "$unit")"
    units=$((units + 1))
  done
  if [ -d "$systemd_dir/templates" ]; then
    mkdir -p "$tools/usr/share/mars/systemd-templates"
    cp -R "$systemd_dir/templates/." "$tools/usr/share/mars/systemd-templates/"
    find "$tools/usr/share/mars" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
  fi
fi
log "mars-tools: $units systemd unit(s) from $systemd_dir"
install -D -m 0755 "$top/packaging/mars-tools.postinst" "$tools/DEBIAN/postinst"
finish "$tools" mars-tools \
  "Section: admin" \
  "Priority: optional" \
  "Depends: kmod" \
  "Recommends: mars-module" \
  "Suggests: systemd" \
  "Description: MARS block-level replication: administration tool" \
  " MARS replicates a block device asynchronously over long distances to any" \
  " number of secondaries, each holding a consistent (maybe older) copy." \
  " This package holds marsadm with its man pages and shell completions, the" \
  " udev rule for /dev/mars/* and the systemd units. The kernel module comes" \
  " in a mars-module-<kernel release> package."

# ---- mars-module-<release>
mod=$stage/mars-module
install -D -m 0644 "$module" "$mod/lib/modules/$release/extra/mars.ko"
mkdir -p "$mod/DEBIAN"
for script in postinst postrm; do
  sed "s/@RELEASE@/$release/g" "$top/packaging/mars-module.$script" > "$mod/DEBIAN/$script"
  chmod 0755 "$mod/DEBIAN/$script"
done
finish "$mod" "mars-module-$release" \
  "Section: kernel" \
  "Priority: optional" \
  "Depends: kmod" \
  "Provides: mars-module" \
  "Description: MARS block-level replication: kernel module for Linux $release" \
  " mars.ko built against the MARS testbed kernel $release (Linux 6.12 with Rust," \
  " built by the project). It loads only into that kernel."
