#!/usr/bin/env bash
# `make demo`: boot a two-node testbed and show mars.ko loaded on both nodes.
# The nodes stay up afterwards for exploring; `testing/testbed down` removes them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tb=$top/testing/testbed

echo "=== booting node1 and node2 (qemu, software emulation)"
"$tb" up --nodes 2
"$tb" status
for n in node1 node2; do
  echo
  echo "=== $n: modprobe mars"
  "$tb" exec "$n" -- sh -c '
    modprobe mars
    echo "\$ lsmod | grep mars";          lsmod | grep "^mars "
    echo "\$ cat /proc/sys/mars/version"; cat /proc/sys/mars/version
    echo "\$ marsadm version";            marsadm version
    echo "\$ dmesg | grep mars:";         dmesg | grep "mars:"
    echo "\$ ping -c1 node1 / node2 (replication network)"
    for p in node1 node2; do ping -c 1 -W 2 $p | sed -n 2p; done'
done
echo
echo "The nodes keep running. Try: testing/testbed exec node1 -- marsadm --help"
echo "Stop and remove them with:   testing/testbed down"
