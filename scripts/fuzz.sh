#!/usr/bin/env bash
# make fuzz: coverage-guided fuzzing (libFuzzer) of the decoders of disk and network
# data, each target for a bounded time; prints the executions per target and writes
# them to build/fuzz/report.md (docu/fuzzing.md says how to read it).
#
# usage: scripts/fuzz.sh [TARGET...]   (default: all; FUZZ_SECONDS per target, default 60)
#
# Stable Rust, no nightly: libfuzzer-sys (crates.io) compiles libFuzzer from its C++
# source, and the instrumentation cargo-fuzz would ask for is set here with stable
# flags (-Cpasses=sancov-module and LLVM's sanitizer-coverage options). No sanitizer:
# the code under test is safe Rust; overflow checks and debug assertions are on.
# The corpus is kept in build/fuzz/corpus/TARGET, so later runs start from it.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
crate=$top/kernel/core/fuzz
out=$top/build/fuzz
seconds=${FUZZ_SECONDS:-60}
triple=x86_64-unknown-linux-gnu
all=(wire log_record tree replication auth)
targets=("${@:-${all[@]}}")

export CARGO_TARGET_DIR=$out/target
# libFuzzer is LLVM's: build it with clang++ (scripts/setup.sh installs clang).
export CXX=${CXX:-clang++}
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# --target keeps the instrumentation out of build scripts.
(cd "$crate" && cargo build --quiet --release --locked --target "$triple" $(printf -- '--bin %s ' "${targets[@]}"))

commit=$(git -C "$top" rev-parse --short HEAD)
report=$out/report.md
mkdir -p "$out"
{
  echo "commit $commit$(git -C "$top" diff --quiet HEAD -- kernel/core || echo ' (kernel/core modified)'), $(date -u +%Y-%m-%d), ${seconds} s per target, $(rustc --version)"
  echo
  echo "| target | executions | exec/s | corpus | new units |"
  echo "|---|---|---|---|---|"
} > "$report"
status=0
for t in "${targets[@]}"; do
  corpus=$out/corpus/$t
  mkdir -p "$corpus" "$out/crashes/$t"
  log=$out/$t.log
  rc=0
  "$CARGO_TARGET_DIR/$triple/release/$t" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$out/crashes/$t/" -rss_limit_mb=1024 "$corpus" > "$log" 2>&1 || rc=$?
  stat() { awk -v k="stat::$1:" '$1 == k { print $2 }' "$log" | tail -1; }
  runs=$(stat number_of_executed_units) eps=$(stat average_exec_per_sec) new=$(stat new_units_added)
  n=$(ls "$corpus" | wc -l)
  if [ "$rc" != 0 ]; then
    status=1
    echo "fuzz: $t FAILED (exit $rc): $(grep -m1 -E 'panicked|ERROR' "$log" || true); inputs in $out/crashes/$t, log $log" >&2
    runs="${runs:-?} (failed)"
  fi
  printf '| %s | %s | %s | %s | %s |\n' "$t" "${runs:-?}" "${eps:-?}" "$n" "${new:-?}" >> "$report"
  echo "fuzz: $t: ${runs:-?} executions in ${seconds} s, corpus $n"
done
cat "$report"
exit $status
