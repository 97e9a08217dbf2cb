/work/main/kernel/core/fuzz/target/debug/deps/wire-053ba9b3b7e52335.d: fuzz_targets/wire.rs

/work/main/kernel/core/fuzz/target/debug/deps/libwire-053ba9b3b7e52335.rmeta: fuzz_targets/wire.rs

fuzz_targets/wire.rs:
