#!/usr/bin/env bash
# `testbed exec` streams output, forwards stdin, returns the command's exit status,
# runs concurrently, and reports its own errors as 255.
source "$(dirname "$0")/../lib.sh"

step "exit statuses are passed through"
expect_status 0 tb exec node1 -- true
expect_status 1 tb exec node1 -- false
expect_status 7 tb exec node1 -- sh -c 'exit 7'
expect_status 127 tb exec node1 -- /no/such/program
expect_status 137 tb exec node1 -- sh -c 'kill -9 $$'

step "stdout and stderr are kept apart"
out=$(tb exec node2 -- sh -c 'echo to-out; echo to-err >&2' 2>/dev/null)
assert_eq to-out "$out" "stdout"
err=$(tb exec node2 -- sh -c 'echo to-out; echo to-err >&2' 2>&1 >/dev/null)
assert_eq to-err "$err" "stderr"

step "stdin is forwarded"
assert_eq "hello mars" "$(echo 'hello mars' | tb exec node1 -- cat)" "stdin"
big=$(head -c 3000000 /dev/urandom | base64 -w0)
sum_host=$(printf %s "$big" | sha256sum | cut -d' ' -f1)
sum_node=$(printf %s "$big" | tb exec node1 -- sha256sum | cut -d' ' -f1)
assert_eq "$sum_host" "$sum_node" "3 MB through stdin"

step "concurrent exec on one node"
tb exec node1 -- sh -c 'sleep 3; echo slow' > /tmp/mars-exec-slow.$$ &
slow=$!
sleep 0.5
assert_eq fast "$(tb exec node1 -- echo fast)" "exec while another runs"
wait $slow
assert_eq slow "$(cat /tmp/mars-exec-slow.$$)" "background exec output"
rm -f /tmp/mars-exec-slow.$$

step "testbed errors exit 255"
expect_status 255 tb exec node9 -- true
expect_status 255 tb exec nodeX -- true
expect_status 255 tb frobnicate
echo "ok"
