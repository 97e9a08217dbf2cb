#!/usr/bin/env bash
# Install everything this project needs on a Debian 12 machine (run as root).
# Idempotent: when everything is present it only checks and returns in about a second.
set -euo pipefail

BINDGEN_VERSION=0.73.2

APT_PACKAGES=(
  # kernel source and build
  linux-source-6.12 clang libclang-dev llvm lld flex bison bc libelf-dev libssl-dev
  cpio kmod xz-utils rsync
  # VM testbed: emulator, guest userland, tools copied into the guests
  qemu-system-x86 busybox-static xfsprogs e2fsprogs fio iproute2 nftables drbd-utils bash
  util-linux procps dmsetup
  # make deb and its test (scripts/build-deb.sh, scripts/test-deb.sh)
  dpkg binutils gzip man-db groff-base lintian zsh lowdown
  # promtool (checks `marsadm metrics` output); the server it comes with is stopped below
  prometheus
  # Debian nodes (testbed up --image debian): root image, per-node qcow2 overlays
  mmdebstrap qemu-utils
  # the fuzz targets (make fuzz, and make check builds them): libFuzzer is C++
  g++
)

log() { printf 'setup: %s\n' "$*" >&2; }

missing_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

# Two rounds: installing one package can remove another that conflicts with it (seen on
# a fresh machine: Debian 12's qemu-system-x86 removed a backported qemu-utils, and with
# it qemu-img); the second round installs the version that fits.
for round in 1 2; do
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]})) || break
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  [ "$round" = 2 ] || apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Of the prometheus package only promtool is wanted: stop the server it just started.
  if [[ " ${missing[*]} " == *" prometheus "* && -d /run/systemd/system ]]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
done
mapfile -t missing < <(missing_packages)
if ((${#missing[@]})); then
  log "cannot install: ${missing[*]} (apt removes them again; see /var/log/apt/history.log)"
  exit 1
fi

if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
  log "adding rustup component rust-src"
  rustup component add rust-src
fi

if ! command -v bindgen >/dev/null || [ "$(bindgen --version 2>/dev/null | awk '{print $2}')" != "$BINDGEN_VERSION" ]; then
  log "installing bindgen-cli $BINDGEN_VERSION"
  cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION"
fi
log "all build and test dependencies present"
