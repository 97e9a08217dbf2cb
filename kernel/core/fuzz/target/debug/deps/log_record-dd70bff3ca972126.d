/work/main/kernel/core/fuzz/target/debug/deps/log_record-dd70bff3ca972126.d: fuzz_targets/log_record.rs

/work/main/kernel/core/fuzz/target/debug/deps/liblog_record-dd70bff3ca972126.rmeta: fuzz_targets/log_record.rs

fuzz_targets/log_record.rs:
