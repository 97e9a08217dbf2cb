/work/main/kernel/core/fuzz/target/debug/deps/tree-746d494cf9cc68df.d: fuzz_targets/tree.rs

/work/main/kernel/core/fuzz/target/debug/deps/libtree-746d494cf9cc68df.rmeta: fuzz_targets/tree.rs

fuzz_targets/tree.rs:
