#!/usr/bin/env bash
# A file written and synced to /mars, and blocks written to the data disk, survive
# `crash` and `start`; a crashed node reports as stopped and refuses exec.
source "$(dirname "$0")/../lib.sh"

step "write to /mars and the data disk, with sync"
on node1 'head -c 4194304 /dev/urandom > /mars/crash-test && sync /mars/crash-test'
want_file=$(on node1 'sha256sum /mars/crash-test' | cut -d' ' -f1)
on node1 'dd if=/dev/urandom of=/dev/vdb bs=1M count=8 seek=100 oflag=direct status=none'
want_disk=$(on node1 'dd if=/dev/vdb bs=1M count=8 skip=100 iflag=direct status=none | sha256sum' | cut -d' ' -f1)

step "crash"
tb crash node1
tb status | grep -q '^node1 stopped' || fail "node1 not reported stopped"
expect_status 255 tb exec node1 -- true
assert_eq node2 "$(on node2 hostname)" "node2 unaffected"

step "start"
tb start node1
tb start node1   # already running: fine
assert_eq "$want_file" "$(on node1 'sha256sum /mars/crash-test' | cut -d' ' -f1)" "/mars file after crash"
assert_eq "$want_disk" "$(on node1 'dd if=/dev/vdb bs=1M count=8 skip=100 iflag=direct status=none | sha256sum' | cut -d' ' -f1)" "data disk after crash"
on node1 'rm /mars/crash-test'
on node1 'ping -c 1 -W 2 node2 >/dev/null' || retry 20 on node1 'ping -c 1 -W 2 node2 >/dev/null' || fail "replication network after restart"
echo "ok"
