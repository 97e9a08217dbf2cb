# Helpers for VM scenarios (sourced). A scenario is a bash script that exits 0 on
# success; it may assume node1 and node2 are up, and must leave every node it
# touched running again.
set -euo pipefail

TESTING=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB=$TESTING/testbed

tb() { "$TB" "$@"; }

# on NODE SHELL-COMMAND: run a shell command line in NODE.
on() {
  local node=$1
  shift
  "$TB" exec "$node" -- sh -c "$*"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

step() { echo "--- $*"; }

assert_eq() { # assert_eq EXPECTED ACTUAL WHAT
  [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

# expect_status STATUS CMD...: run CMD, which must exit with STATUS.
expect_status() {
  local want=$1 got=0
  shift
  "$@" || got=$?
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want"
}

# retry SECONDS CMD...: run CMD until it succeeds, at most SECONDS seconds.
retry() {
  local limit=$1 start=$SECONDS
  shift
  until "$@"; do
    [ $((SECONDS - start)) -lt "$limit" ] || return 1
    sleep 0.5
  done
}
