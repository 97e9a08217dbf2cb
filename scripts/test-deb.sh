#!/usr/bin/env bash
# Host test of the Debian packages (make check runs it after the build): builds them with
# scripts/build-deb.sh from what `make all` built, then checks their fields and files,
# that the man pages render and the completions load, lintian, an install into a scratch
# root, a build that ships a test fixture's units, and a DKMS build of mars-dkms against
# the stock kernel's headers (in its chroot, with the rustc that built that kernel).
# Every check counts; the last line is "packages: N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAILED: $*"; failed=$((failed + 1)); }
check() { # check NAME COMMAND...: passes when COMMAND succeeds
  local name=$1
  shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}
finish() {
  echo "packages: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mars-test-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=$tmp/deb
bin=target/x86_64-unknown-linux-gnu/release/marsadm

if ! MARS_DEB_OUT=$out scripts/build-deb.sh 2> "$tmp/build.log"; then
  cat "$tmp/build.log"
  bad "build-deb.sh builds the packages"
  finish
fi
ok "build-deb.sh builds the packages"
stock=$(cat build/kernels/7.3/kdir)
release=$(cat "$stock/release")
image_version=$(dpkg-deb --field "$stock"/debs/linux-image-"$release"_*.deb Version)
tools=$(ls "$out"/mars-tools_*_amd64.deb)
module=$(ls "$out"/mars-module-"$release"_*_amd64.deb)
dkms=$(ls "$out"/mars-dkms_*_all.deb)
version=$(dpkg-deb --field "$tools" Version)

# ---- fields
check "version starts with the Cargo.toml version" \
  grep -q "^$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)" <<< "$version"
check "mars-tools: amd64, depends on kmod" \
  test "$(dpkg-deb --field "$tools" Architecture Depends | tr '\n' ' ')" = "Architecture: amd64 Depends: kmod "
check "mars-module-$release: provides mars-module, same version" \
  test "$(dpkg-deb --field "$module" Provides Version | tr '\n' ' ')" = "Provides: mars-module Version: $version "
check "mars-module-$release: depends on exactly linux-image-$release $image_version" \
  test "$(dpkg-deb --field "$module" Depends)" = "kmod, linux-image-$release (= $image_version)"
check "mars-dkms: all, depends on dkms, provides mars-module, same version" \
  test "$(dpkg-deb --field "$dkms" Architecture Depends Provides Version | tr '\n' ' ')" = "Architecture: all Depends: dkms Provides: mars-module Version: $version "
check "mars-module-$release: postinst runs depmod for $release" \
  bash -c "dpkg-deb --ctrl-tarfile '$module' | tar -xOf - ./postinst | grep -q 'depmod -b .* -a $release'"

# ---- files
dpkg-deb --contents "$tools" | awk '{print $6}' | sed 's|^\./||' > "$tmp/tools.list"
dpkg-deb --contents "$module" | awk '{print $6}' | sed 's|^\./||' > "$tmp/module.list"
dpkg-deb --contents "$dkms" | awk '{print $6}' | sed 's|^\./||' > "$tmp/dkms.list"
has() { grep -qx "$2" "$tmp/$1.list" || { echo "  $1 lacks $2"; return 1; }; }
for f in usr/sbin/marsadm lib/udev/rules.d/60-mars.rules usr/share/bash-completion/completions/marsadm \
  usr/share/zsh/vendor-completions/_marsadm usr/share/man/man8/marsadm.8.gz usr/share/doc/mars-tools/copyright \
  usr/share/doc/mars-tools/README.gz usr/share/doc/mars-tools/docu/operations.md.gz usr/share/doc/mars-tools/docu/troubleshooting.md.gz \
  usr/share/mars/prometheus/mars.rules.yml usr/share/mars/grafana/mars-dashboard.json; do
  check "mars-tools ships $f" has tools "$f"
done
check "mars-module ships usr/lib/modules/$release/extra/mars.ko" has module "usr/lib/modules/$release/extra/mars.ko"
mkdir -p "$tmp/m"
dpkg-deb -x "$module" "$tmp/m"
shipped=$tmp/m/usr/lib/modules/$release/extra/mars.ko
check "the shipped mars.ko is built for $release" \
  bash -c "modinfo -F vermagic '$shipped' | grep -q '^$release '"
check "the shipped mars.ko has no debug info (stripped, < 3 MB)" \
  bash -c "! readelf -S '$shipped' | grep -q debug_info && test \$(stat -c %s '$shipped') -lt 3000000"
for f in Kbuild kernel/Kbuild kernel/mars_main.rs kernel/kapi/sys.h kernel/kapi/sys.c kernel/kapi/compat.rs kernel/core/src/lib.rs dkms.conf; do
  check "mars-dkms ships usr/src/mars-$version/$f" has dkms "usr/src/mars-$version/$f"
done
# One man page per command marsadm lists (and marsadm.8).
commands=$("$bin" --help | sed -n '/^Usage:/,/^Options:/p' | awk '/^  [a-z0-9]/ {print $1}')
missing=0
for c in $commands; do
  grep -qx "usr/share/man/man8/marsadm-$c.8.gz" "$tmp/tools.list" || { echo "  no man page for $c"; missing=1; }
done
check "a man page for each of the $(wc -w <<< "$commands") commands --help lists" test "$missing" = 0 -a "$(wc -w <<< "$commands")" -gt 90
# The units in systemd/ (whatever is there) and its templates.
units_ok=0
for u in systemd/*.service systemd/*.path systemd/*.timer systemd/*.mount systemd/*.target; do
  [ -f "$u" ] || continue
  grep -qx "lib/systemd/system/$(basename "$u")" "$tmp/tools.list" || { echo "  lacks $u"; units_ok=1; }
done
for t in systemd/templates/*; do
  [ -f "$t" ] || continue
  grep -qx "usr/share/mars/systemd-templates/$(basename "$t")" "$tmp/tools.list" || { echo "  lacks $t"; units_ok=1; }
done
check "every unit and template in systemd/ is shipped" test "$units_ok" = 0

# ---- man pages and completions, from the package
mkdir -p "$tmp/x"
dpkg-deb -x "$tools" "$tmp/x"
render_ok=0
for page in "$tmp"/x/usr/share/man/man8/*.8.gz; do
  warn=$(zcat "$page" | groff -man -Tutf8 -ww -z 2>&1)
  [ -z "$warn" ] || { echo "  $(basename "$page"): $warn"; render_ok=1; }
done
check "every man page renders without groff warnings" test "$render_ok" = 0
check "man -l marsadm-primary.8 teaches refusals and an example" \
  bash -c "MANWIDTH=80 man -l '$tmp/x/usr/share/man/man8/marsadm-primary.8.gz' 2>/dev/null | grep -q 'Refusals' && MANWIDTH=80 man -l '$tmp/x/usr/share/man/man8/marsadm-primary.8.gz' 2>/dev/null | grep -q 'marsadm primary --force r0'"
# docu/ as HTML: one page each, with its title, and the walkthrough's commands in it.
html_ok=0
for page in docu/*.md; do
  h=$tmp/x/usr/share/doc/mars-tools/html/$(basename "$page" .md).html
  [ -f "$h" ] || { echo "  no HTML page for $page"; html_ok=1; continue; }
  grep -q "<title>MARS: " "$h" && grep -q "<h1" "$h" || { echo "  $(basename "$h"): no title or heading"; html_ok=1; }
done
check "docu/ as HTML: a page each ($(ls docu/*.md | wc -l)), with title and heading" test "$html_ok" = 0
check "html/index.html links every page" test "$(grep -c '<a href="[a-z0-9-]*\.html">' "$tmp/x/usr/share/doc/mars-tools/html/index.html")" = "$(ls docu/*.md | wc -l)"
check "operations.html has the walkthrough's commands" grep -q 'alpha# marsadm create-cluster' "$tmp/x/usr/share/doc/mars-tools/html/operations.html"
comp=$tmp/x/usr/share/bash-completion/completions/marsadm
check "bash completion: syntax" bash -n "$comp"
check "bash completion: complete -p marsadm after sourcing" \
  bash -c "source '$comp' && complete -p marsadm | grep -q _marsadm"
check "bash completion: marsadm prim<TAB> offers primary" \
  bash -c "source '$comp'; COMP_WORDS=(marsadm prim); COMP_CWORD=1; COMP_LINE='marsadm prim'; COMP_POINT=12; _marsadm marsadm prim marsadm; printf '%s\n' \"\${COMPREPLY[@]}\" | grep -qx primary"
if command -v zsh >/dev/null; then
  check "zsh completion: syntax" zsh -n "$tmp/x/usr/share/zsh/vendor-completions/_marsadm"
  check "zsh completion: compinit binds marsadm to _marsadm" \
    test "$(zsh -fc "fpath=('$tmp/x/usr/share/zsh/vendor-completions' \$fpath); autoload -Uz compinit; compinit -u -d '$tmp/zcompdump'; print -r -- \${_comps[marsadm]}")" = _marsadm
else
  bad "zsh completion: zsh missing (scripts/setup.sh installs it)"
fi
check "udev rule: /dev/mars/* mode 0600 group disk" \
  grep -q 'KERNEL=="mars/\*|mars!\*".*GROUP="disk", MODE="0600"' "$tmp/x/lib/udev/rules.d/60-mars.rules"

# ---- lintian
if command -v lintian >/dev/null; then
  lint=$(lintian --tag-display-limit 0 "$tools" "$module" "$dkms" 2>&1 | grep -v 'running with root privileges')
  [ -z "$lint" ] || echo "$lint"
  check "lintian: no error or warning" bash -c "! grep -q '^[EW]:' <<< '$lint'"
else
  bad "lintian missing (scripts/setup.sh installs it)"
fi

# ---- install into a scratch root, run the installed marsadm, remove again
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers" "$root/usr/lib"
touch "$root/var/lib/dpkg/status"
# merged /usr, as on Debian 13
ln -s usr/lib "$root/lib"
dpkg_root() { dpkg --root="$root" --force-script-chrootless --force-depends "$@" > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; return 1; }; }
check "dpkg --root -i installs both packages" dpkg_root -i "$tools" "$module"
check "installed marsadm --version says $version's release" \
  bash -c "'$root/usr/sbin/marsadm' --version | grep -qx 'marsadm ${version%%+*}'"
check "installed marsadm help primary teaches" \
  bash -c "'$root/usr/sbin/marsadm' help primary | grep -q '^Example:'"
check "postinst ran depmod: modules.dep lists extra/mars.ko" grep -q '^extra/mars.ko:' "$root/lib/modules/$release/modules.dep"
check "dpkg --root -r removes both" dpkg_root -r mars-tools "mars-module-$release"
check "after removal: no marsadm, mars.ko gone from modules.dep" \
  bash -c "! test -e '$root/usr/sbin/marsadm' && ! grep -q mars.ko '$root/lib/modules/$release/modules.dep'"

# ---- units: a build with a fixture directory ships its units and templates
fixture=testing/fixtures/deb-systemd
if MARS_DEB_OUT=$tmp/fixture MARS_SYSTEMD_DIR=$fixture scripts/build-deb.sh 2> "$tmp/fixture.log"; then
  list=$(dpkg-deb --contents "$tmp"/fixture/mars-tools_*.deb | awk '{print $6}')
  check "fixture: units go to /lib/systemd/system" \
    bash -c "grep -qx './lib/systemd/system/mars-fixture.service' <<< '$list' && grep -qx './lib/systemd/system/mars-fixture.timer' <<< '$list'"
  check "fixture: templates go to /usr/share/mars/systemd-templates" \
    grep -qx './usr/share/mars/systemd-templates/fixture@.service' <<< "$list"
  check "fixture: other files in the directory are not units" bash -c "! grep -E -q 'systemd.*README' <<< '$list'"
else
  cat "$tmp/fixture.log"
  bad "build-deb.sh with the fixture's units"
fi

# ---- DKMS: mars-dkms builds against the stock kernel's headers (the dkms tool of the
# stock kernel's chroot, with the rustc that built the kernel; the headers' overlay with
# the rust/ artifacts as kernel source directory). A throw-away copy of the chroot's
# DKMS state: the cached chroot stays as it was.
dkms_build() {
  local inroot=$stock/root tree=/tmp/mars-test-dkms.$$
  rm -rf "$inroot$tree"
  mkdir -p "$inroot$tree/dkms" "$inroot$tree/src"
  dpkg-deb -x "$dkms" "$inroot$tree/src"
  "$stock/chroot" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    dkms build --dkmstree "$tree/dkms" --sourcetree "$tree/src/usr/src" -m mars -v "$version" \
    -k "$release" --kernelsourcedir /kdir > "$tmp/dkms.log" 2>&1
  local rc=$?
  local ko
  ko=$(find "$inroot$tree/dkms" -name mars.ko | head -1)
  if [ "$rc" != 0 ] || [ -z "$ko" ] || ! modinfo -F vermagic "$ko" | grep -q "^$release "; then
    tail -30 "$tmp/dkms.log"
    find "$inroot$tree/dkms" -name make.log -exec tail -30 {} \;
    rm -rf "$inroot$tree"
    return 1
  fi
  rm -rf "$inroot$tree"
}
check "dkms build of mars-dkms for $release gives a mars.ko for it" dkms_build
finish
