/work/main/kernel/core/fuzz/target/debug/deps/mars_core-b3aefd4708d5f0c4.d: /work/main/kernel/core/src/lib.rs /work/main/kernel/core/src/auth.rs /work/main/kernel/core/src/backoff.rs /work/main/kernel/core/src/connlimit.rs /work/main/kernel/core/src/crc32c.rs /work/main/kernel/core/src/emergency.rs /work/main/kernel/core/src/handover.rs /work/main/kernel/core/src/lamport.rs /work/main/kernel/core/src/log_record.rs /work/main/kernel/core/src/merge.rs /work/main/kernel/core/src/names.rs /work/main/kernel/core/src/ownership.rs /work/main/kernel/core/src/ratelimit.rs /work/main/kernel/core/src/replication.rs /work/main/kernel/core/src/role.rs /work/main/kernel/core/src/splitbrain.rs /work/main/kernel/core/src/syncgate.rs /work/main/kernel/core/src/syncruns.rs /work/main/kernel/core/src/poly1305.rs /work/main/kernel/core/src/text.rs /work/main/kernel/core/src/tree.rs /work/main/kernel/core/src/version.rs /work/main/kernel/core/src/wire.rs /work/main/kernel/core/src/writeback.rs /work/main/kernel/core/src/xxh64.rs

/work/main/kernel/core/fuzz/target/debug/deps/libmars_core-b3aefd4708d5f0c4.rmeta: /work/main/kernel/core/src/lib.rs /work/main/kernel/core/src/auth.rs /work/main/kernel/core/src/backoff.rs /work/main/kernel/core/src/connlimit.rs /work/main/kernel/core/src/crc32c.rs /work/main/kernel/core/src/emergency.rs /work/main/kernel/core/src/handover.rs /work/main/kernel/core/src/lamport.rs /work/main/kernel/core/src/log_record.rs /work/main/kernel/core/src/merge.rs /work/main/kernel/core/src/names.rs /work/main/kernel/core/src/ownership.rs /work/main/kernel/core/src/ratelimit.rs /work/main/kernel/core/src/replication.rs /work/main/kernel/core/src/role.rs /work/main/kernel/core/src/splitbrain.rs /work/main/kernel/core/src/syncgate.rs /work/main/kernel/core/src/syncruns.rs /work/main/kernel/core/src/poly1305.rs /work/main/kernel/core/src/text.rs /work/main/kernel/core/src/tree.rs /work/main/kernel/core/src/version.rs /work/main/kernel/core/src/wire.rs /work/main/kernel/core/src/writeback.rs /work/main/kernel/core/src/xxh64.rs

/work/main/kernel/core/src/lib.rs:
/work/main/kernel/core/src/auth.rs:
/work/main/kernel/core/src/backoff.rs:
/work/main/kernel/core/src/connlimit.rs:
/work/main/kernel/core/src/crc32c.rs:
/work/main/kernel/core/src/emergency.rs:
/work/main/kernel/core/src/handover.rs:
/work/main/kernel/core/src/lamport.rs:
/work/main/kernel/core/src/log_record.rs:
/work/main/kernel/core/src/merge.rs:
/work/main/kernel/core/src/names.rs:
/work/main/kernel/core/src/ownership.rs:
/work/main/kernel/core/src/ratelimit.rs:
/work/main/kernel/core/src/replication.rs:
/work/main/kernel/core/src/role.rs:
/work/main/kernel/core/src/splitbrain.rs:
/work/main/kernel/core/src/syncgate.rs:
/work/main/kernel/core/src/syncruns.rs:
/work/main/kernel/core/src/poly1305.rs:
/work/main/kernel/core/src/text.rs:
/work/main/kernel/core/src/tree.rs:
/work/main/kernel/core/src/version.rs:
/work/main/kernel/core/src/wire.rs:
/work/main/kernel/core/src/writeback.rs:
/work/main/kernel/core/src/xxh64.rs:
