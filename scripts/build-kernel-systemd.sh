#!/usr/bin/env bash
# Build (or find in the cache) the kernel of Debian nodes: the testbed kernel of
# scripts/build-kernel.sh with scripts/kernel-6.12-systemd.config merged on top (what
# systemd needs as PID 1 and the busybox kernel lacks).
#
# It runs scripts/build-kernel.sh itself, unchanged, from a staging copy of the inputs
# in which kernel-6.12.config is the concatenation of both fragments; so the cache key
# covers both fragments, the patches and the build script, and the tree lives in its
# own cache directory ($cache/systemd-kernel/kernel-KEY), whose clean-up never touches
# the busybox kernel's tree (and the other way round).
#
# Prints the path of the built tree (usable as KDIR) on stdout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${MARS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mars}
stage=$(mktemp -d "${TMPDIR:-/tmp}/mars-kernel-systemd.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/scripts"
cp "$top/scripts/build-kernel.sh" "$stage/scripts/build-kernel.sh"
cat "$top/scripts/kernel-6.12.config" "$top/scripts/kernel-6.12-systemd.config" > "$stage/scripts/kernel-6.12.config"
ln -s "$top/pre-patches" "$stage/pre-patches"
MARS_CACHE=$cache/systemd-kernel "$stage/scripts/build-kernel.sh"
