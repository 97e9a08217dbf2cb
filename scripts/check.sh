#!/usr/bin/env bash
# `make check`: set-up, build, host unit tests, all VM scenarios.
# Every cargo test and every scenario counts; the last line is "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
start=$SECONDS
passed=0
failed=0
mkdir -p build

echo "=== build (make)"
if ! make all; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "=== host unit tests (cargo test)"
cargo test --workspace --locked 2>&1 | tee build/host-tests.log
host_rc=${PIPESTATUS[0]}
while read -r p f; do
  passed=$((passed + p))
  failed=$((failed + f))
done < <(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' build/host-tests.log)
if [ "$host_rc" != 0 ] && ! grep -q '^test result: FAILED' build/host-tests.log; then
  echo "cargo test failed to build or run"
  failed=$((failed + 1))
fi

# The fuzz targets (make fuzz) are their own crate, outside the workspace: one check
# that they still build against the decoders they call.
echo "=== fuzz targets build (kernel/core/fuzz, docu/fuzzing.md)"
if cargo check --locked --quiet --manifest-path kernel/core/fuzz/Cargo.toml --bins; then
  passed=$((passed + 1))
else
  echo "the fuzz targets do not build"
  failed=$((failed + 1))
fi

echo "=== packages (scripts/test-deb.sh: make deb's packages, docu/packaging.md)"
scripts/test-deb.sh 2>&1 | tee build/deb-tests.log
read -r dp df < <(sed -n 's/^packages: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' build/deb-tests.log | tail -1)
if [ -z "${dp:-}" ]; then
  echo "package test did not finish"
  dp=0 df=1
fi
passed=$((passed + dp))
failed=$((failed + df))

# Three testbed instances at once (j1, j2, j3; docu/testbed.md, "Parallel scenarios":
# one runs the Debian scenarios, the others busybox ones beside them);
# MARS_SCENARIO_JOBS=1 runs them one after the other on the default testbed.
jobs=${MARS_SCENARIO_JOBS:-3}
echo "=== VM scenarios (testing/run-scenarios -j $jobs)"
testing/run-scenarios -j "$jobs" | tee build/scenarios.log
read -r sp sf < <(sed -n 's/^scenarios: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' build/scenarios.log | tail -1)
if [ -z "${sp:-}" ]; then
  echo "scenario runner did not finish"
  sp=0 sf=1
fi
passed=$((passed + sp))
failed=$((failed + sf))

echo "=== make check took $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
