#!/usr/bin/env bash
# `make demo`: boot two testbed nodes with mars.ko loaded on both, then on node1 create a
# resource, put xfs on /dev/mars/r0, write files, and show `marsadm view` and the
# verified transaction log; then node2 joins the cluster and the resource: a fast full
# sync, then it follows node1's writes (fetch and replay), and `marsadm view` on both
# shows it; a planned handover to node2 (refused while node1 has it mounted) and back,
# with `marsadm view` on both. The nodes stay up afterwards; `testing/testbed down`
# removes them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tb=$top/testing/testbed
on() { local n=$1; shift; "$tb" exec "$n" -- sh -c "$*"; }
show() { local n=$1; shift; echo "$n# $*"; on "$n" "$*"; }

echo "=== booting node1 and node2 (qemu, software emulation)"
"$tb" up --nodes 2
"$tb" status
for n in node1 node2; do
  on $n 'umount /mnt/r0 2>/dev/null; rmmod mars 2>/dev/null; rm -rf /mars/*; true'
  echo
  echo "=== $n: load the module"
  show $n 'modprobe mars && lsmod | grep "^mars "'
  show $n 'marsadm version'
done

echo
echo "=== node1: a cluster and a resource on /dev/vdb"
show node1 'marsadm create-cluster'
show node1 'marsadm create-resource r0 /dev/vdb'
for _ in $(seq 30); do on node1 'test -b /dev/mars/r0' && break; sleep 1; done

echo
echo "=== node1: xfs on /dev/mars/r0, some files"
show node1 'mkfs.xfs -q -f /dev/mars/r0 && mkdir -p /mnt/r0 && mount /dev/mars/r0 /mnt/r0'
show node1 'for i in $(seq 1 20); do head -c $((i * 4096)) /dev/urandom > /mnt/r0/file$i; done; sync; ls /mnt/r0 | wc -l'
show node1 'df -h /mnt/r0 | tail -1'

echo
echo "=== node1: state and transaction log"
show node1 'marsadm view'
show node1 'ls -l /mars/resource-r0/'
show node1 'marsadm cat --summary /mars/resource-r0/log-000000001-node1'
echo
echo "=== node2: join the cluster and the resource: fast full sync, then fetch + replay"
echo "node2# (copy node1's /mars/cluster.key, the cluster secret)"
key=$(on node1 'cat /mars/cluster.key')
on node2 "umask 077 && echo $key > /root/cluster.key"
show node2 'marsadm join-cluster node1 --secret-file /root/cluster.key'
show node2 'marsadm wait-resource r0 --timeout 30'
show node2 'marsadm join-resource r0 /dev/vdb'
sleep 3
show node2 'marsadm view r0'
show node2 'marsadm wait-resource r0 --until uptodate --timeout 300'
show node2 'marsadm view r0'
echo
echo "=== node1 writes more; node2 follows"
show node1 'for i in $(seq 21 40); do head -c 262144 /dev/urandom > /mnt/r0/file$i; done; sync; ls /mnt/r0 | wc -l'
sleep 2
show node2 'marsadm view r0'
sleep 3
show node2 'marsadm wait-resource r0 --until uptodate --timeout 300'
show node1 'marsadm view r0'
show node2 'marsadm view r0'
show node2 'marsadm view-1and1'
show node1 'readlink /mars/resource-r0/replay-node1'
show node2 'readlink /mars/resource-r0/replay-node2'
show node1 'marsadm wait-cluster'
echo
echo "=== planned handover to node2: refused while node1 has it mounted"
show node2 'marsadm primary r0 || echo "(exit $?)"'
show node1 'cd /mnt/r0 && sha256sum file* > /tmp/sums && cd / && umount /mnt/r0'
show node2 'marsadm primary r0'
show node2 'mkdir -p /mnt/r0 && mount /dev/mars/r0 /mnt/r0 && ls /mnt/r0 | wc -l'
"$tb" exec node1 -- cat /tmp/sums | "$tb" exec node2 -- sh -c 'cat > /tmp/sums'
show node2 'cd /mnt/r0 && sha256sum -c /tmp/sums | grep -c ": OK"'
show node2 'for i in $(seq 41 50); do head -c 65536 /dev/urandom > /mnt/r0/file$i; done; sync; ls /mnt/r0 | wc -l'
sleep 3
show node1 'marsadm view r0'
show node2 'marsadm view r0'
echo
echo "=== and back to node1"
show node2 'umount /mnt/r0'
show node1 'marsadm primary r0'
show node1 'mount /dev/mars/r0 /mnt/r0 && ls /mnt/r0 | wc -l'
sleep 3
show node1 'marsadm view r0'
show node2 'marsadm view r0'
echo
echo "The nodes keep running (r0 mounted on node1 at /mnt/r0, replicated to node2). Try:"
echo "  testing/testbed exec node2 -- marsadm view --json"
echo "Stop and remove them with: testing/testbed down"
