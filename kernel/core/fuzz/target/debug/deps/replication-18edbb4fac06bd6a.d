/work/main/kernel/core/fuzz/target/debug/deps/replication-18edbb4fac06bd6a.d: fuzz_targets/replication.rs

/work/main/kernel/core/fuzz/target/debug/deps/libreplication-18edbb4fac06bd6a.rmeta: fuzz_targets/replication.rs

fuzz_targets/replication.rs:
