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
  util-linux procps
  # make deb and its test (scripts/build-deb.sh, scripts/test-deb.sh)
  dpkg binutils gzip man-db groff-base lintian zsh
)

log() { printf 'setup: %s\n' "$*" >&2; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
