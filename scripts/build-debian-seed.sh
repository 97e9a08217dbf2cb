#!/usr/bin/env bash
# Build the seed disk of Debian testbed nodes: a small read-only ext4 image with what
# a node needs from this checkout, so the cached root image holds nothing of it.
# mars-node-setup mounts it at /run/mars-seed; testbed-agent.service runs the agent
# from there; /usr/bin/marsadm links to its marsadm (an installed package's
# /usr/sbin/marsadm comes first in PATH).
#
# usage: build-debian-seed.sh BINDIR OUT
#   BINDIR  directory with static testbed-agent, marsadm, mars-writer, mars-hostile
#   OUT     the image to write (replaced atomically; running nodes keep the old one)
set -euo pipefail

bindir=$1 out=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/mars-seed.XXXXXX")
trap 'rm -rf "$dir"' EXIT

for b in testbed-agent marsadm mars-writer mars-hostile; do
  install -m 0755 "$bindir/$b" "$dir/$b"
done

size_mib=$(( $(du -sm "$dir" | cut -f1) + 16 ))
rm -f "$out.new"
truncate -s "${size_mib}M" "$out.new"
mkfs.ext4 -q -F -L mars-seed -d "$dir" "$out.new"
mv -f "$out.new" "$out"
