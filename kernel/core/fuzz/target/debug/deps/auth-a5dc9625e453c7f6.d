/work/main/kernel/core/fuzz/target/debug/deps/auth-a5dc9625e453c7f6.d: fuzz_targets/auth.rs

/work/main/kernel/core/fuzz/target/debug/deps/libauth-a5dc9625e453c7f6.rmeta: fuzz_targets/auth.rs

fuzz_targets/auth.rs:
