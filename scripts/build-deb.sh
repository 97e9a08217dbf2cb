#!/usr/bin/env bash
# `make deb`: Debian packages from a staged tree, built with dpkg-deb (docu/packaging.md).
#
#   mars-tools_<version>_amd64.deb                marsadm, man pages, completions, udev
#                                                 rule, systemd units and templates
#   mars-module-<release>_<version>_amd64.deb     mars.ko for Debian's stock kernel
#                                                 <release>; depends on exactly that
#                                                 linux-image package
#   mars-dkms_<version>_all.deb                   the module's source for DKMS, for
#                                                 other kernels (docu/install.md)
#
# Inputs (make deb builds them first): the static marsadm in $MARS_BIN_DIR,
# build/kernels/7.3/mars.ko and build/kernels/7.3/kdir (the stock kernel directory it
# was built against: its release, and the package version of its linux-image), the
# module's sources, and whatever systemd/ holds when this runs (no systemd/: a package
# without units). Output: $MARS_DEB_OUT (default build/deb), the .deb files only.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${MARS_BIN_DIR:-$top/target/x86_64-unknown-linux-gnu/release}
out=${MARS_DEB_OUT:-$top/build/deb}
module=${MARS_MODULE:-$top/build/kernels/7.3/mars.ko}
kdir=${MARS_KDIR:-$(cat "$top/build/kernels/7.3/kdir" 2>/dev/null || true)}
systemd_dir=${MARS_SYSTEMD_DIR:-$top/systemd}

log() { printf 'build-deb: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$bin_dir/marsadm" ] || die "no $bin_dir/marsadm (run make userland)"
[ -f "$module" ] || die "no $module (run make module)"
[ -f "$kdir/release" ] && [ -d "$kdir/debs" ] || die "no stock kernel directory at '$kdir' (build/kernels/7.3/kdir; run make kernel)"
release=$(cat "$kdir/release")
# The exact linux-image package the module was built for (its headers, its rustc).
image_version=$(dpkg-deb --field "$kdir"/debs/linux-image-"$release"_*.deb Version)
[ -n "$image_version" ] || die "no linux-image-$release package in $kdir/debs"
[ "$(modinfo -F vermagic "$module" | cut -d' ' -f1)" = "$release" ] || die "$module is not built for $release"


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
finish() { # finish ROOT NAME ARCH CONTROL-FIELDS...
  local root=$1 name=$2 arch=$3
  shift 3
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
    echo "Architecture: $arch"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)"
    printf '%s\n' "$@"
  } > "$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0r md5sum) > "$root/DEBIAN/md5sums"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  local deb=$out/${name}_${version}_$arch.deb
  rm -f "$out/${name}"_*_"$arch".deb
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
# The documentation: README and docu/ (markdown, compressed as Debian's policy asks).
mkdir -p "$tools/usr/share/doc/mars-tools/docu"
gzip -9n < "$top/README" > "$tools/usr/share/doc/mars-tools/README.gz"
for page in "$top"/docu/*.md; do
  gzip -9n < "$page" > "$tools/usr/share/doc/mars-tools/docu/$(basename "$page").gz"
done
# The same pages as HTML (lowdown), readable in a browser: /usr/share/doc/mars-tools/html/.
html=$tools/usr/share/doc/mars-tools/html
mkdir -p "$html"
printf '# MARS documentation\n\nThe pages of docu/ in the source (start with overview and operations):\n\n' > "$stage/index.md"
for page in "$top"/docu/*.md; do
  name=$(basename "$page" .md)
  title=$(sed -n '1s/^# //p' "$page")
  lowdown -s -Thtml --out-no-smarty -M "title=MARS: $title" "$page" > "$html/$name.html"
  printf -- '- [%s](%s.html): %s\n' "$name" "$name" "$title" >> "$stage/index.md"
done
lowdown -s -Thtml --out-no-smarty -M "title=MARS documentation" "$stage/index.md" > "$html/index.html"
# Alert rules (with their promtool unit tests) and a Grafana dashboard (docu/monitoring.md).
for f in prometheus/mars.rules.yml prometheus/mars.rules.test.yml grafana/mars-dashboard.json; do
  install -D -m 0644 "$top/packaging/$f" "$tools/usr/share/mars/$f"
done
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
finish "$tools" mars-tools amd64 \
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

# ---- mars-module-<release> (one kernel: a package for an older one is stale)
rm -f "$out"/mars-module-*_amd64.deb
# Debug info stripped, as Debian's own modules are (10 MB -> about 1 MB).
mod=$stage/mars-module
install -D -m 0644 "$module" "$mod/usr/lib/modules/$release/extra/mars.ko"
strip --strip-debug "$mod/usr/lib/modules/$release/extra/mars.ko"
mkdir -p "$mod/DEBIAN"
for script in postinst postrm; do
  sed "s/@RELEASE@/$release/g" "$top/packaging/mars-module.$script" > "$mod/DEBIAN/$script"
  chmod 0755 "$mod/DEBIAN/$script"
done
finish "$mod" "mars-module-$release" amd64 \
  "Section: kernel" \
  "Priority: optional" \
  "Depends: kmod, linux-image-$release (= $image_version)" \
  "Provides: mars-module" \
  "Description: MARS block-level replication: kernel module for Linux $release" \
  " mars.ko for Debian's kernel $release" \
  " (package linux-image-$release $image_version)," \
  " built against its headers by the Rust compiler that built that kernel." \
  " It loads only into that kernel; for others, see mars-dkms."

# ---- mars-dkms: the module's source, built by DKMS for each installed kernel
dkms=$stage/mars-dkms
src=$dkms/usr/src/mars-$version
mkdir -p "$src"
install -m 0644 "$top/Kbuild" "$src/Kbuild"
(cd "$top" && find kernel -path kernel/core/fuzz -prune -o -path kernel/core/tests -prune -o \
  \( -name Kbuild -o -name '*.rs' -o -name '*.c' -o -name '*.h' \) -type f -print) | sort |
  while read -r f; do install -D -m 0644 "$top/$f" "$src/$f"; done
sed "s/@VERSION@/$version/g" "$top/packaging/dkms.conf" > "$src/dkms.conf"
mkdir -p "$dkms/DEBIAN"
for script in postinst prerm; do
  sed "s/@VERSION@/$version/g" "$top/packaging/mars-dkms.$script" > "$dkms/DEBIAN/$script"
  chmod 0755 "$dkms/DEBIAN/$script"
done
finish "$dkms" mars-dkms all \
  "Section: kernel" \
  "Priority: optional" \
  "Depends: dkms" \
  "Provides: mars-module" \
  "Description: MARS block-level replication: kernel module source for DKMS" \
  " The source of mars.ko, built by DKMS for every installed kernel that has" \
  " CONFIG_RUST. The kernel's headers must carry its rust/ build artifacts," \
  " and the Rust compiler must be the one that built that kernel: see" \
  " docu/install.md of MARS-rs, \"Other kernels\". For Debian's stock kernel," \
  " install mars-module-<release> instead."
