//! Code shared by the kernel module `mars.ko` and the admin tool `marsadm`.
//!
//! Everything here is plain `no_std` Rust without allocation, so the same source compiles
//! into the module (included with `#[path]` from `kernel/mars_main.rs`) and into marsadm (as the
//! `mars-core` crate), and is unit-tested on the host with `cargo test`. A format or rule
//! is defined here once; the kernel and the CLI agree because they share this code.

// In the kernel this file is a module of the `mars` crate, which is no_std already.
#![cfg_attr(not(any(CONFIG_RUST, test)), no_std)]

pub mod auth;
pub mod backoff;
pub mod connlimit;
pub mod crc32c;
pub mod emergency;
pub mod handover;
pub mod lamport;
pub mod log_record;
pub mod merge;
pub mod names;
pub mod negotiate;
pub mod ownership;
pub mod ratelimit;
pub mod replication;
pub mod role;
pub mod round;
pub mod splitbrain;
// For the simulation and the test tools only (not in the module).
#[cfg(not(CONFIG_RUST))]
pub mod splitmix;
pub mod syncgate;
pub mod syncruns;
pub mod poly1305;
pub mod text;
pub mod tree;
pub mod version;
pub mod wire;
pub mod writeback;
pub mod xxh64;
// Paths between these modules are relative (`super::`): in the kernel the crate root is
// `mars` and this file is the module `mars::mars_core`, so `crate::` would differ.
