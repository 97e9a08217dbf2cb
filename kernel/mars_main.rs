// SPDX-License-Identifier: GPL-2.0

//! MARS: asynchronous long-distance block-level replication.
//!
//! This crate is the kernel module `mars.ko`. Layout:
//! - [`kapi`]: the only place with `unsafe`; thin safe wrappers over C kernel APIs.
//! - [`mars_core`]: formats and rules shared with marsadm (`kernel/core/`), plain `no_std` Rust.
//! - [`strategy`]: the `mars_main` thread acting on the `/mars` tree ([`tree`], [`clock`]);
//!   the only module that knows the others. Everything below it gets a [`context`]
//!   (clock, digests, trigger); the fetch and sync servers also the registry of what
//!   this host is primary of ([`served`]).
//! - [`resource`], [`device`]: a resource on this host and its `/dev/mars/<name>`.
//! - [`buffer`], [`logger`], [`writeback`], [`reader`]: a primary's data path (the RAM
//!   write buffer, the transaction logger, sorted writeback, reads); [`replay`]: applying
//!   a log (recovery, and the secondaries' replay).
//! - [`conn`], [`meta`], [`fetch`], [`sync`]: the network: framed connections, metadata
//!   exchange (port 7777), logfile fetch (7778), full sync (7779).
//! - [`tunables`]: module-wide tunables and counters.
//! - [`proc_sys`]: the `/proc/sys/mars` interface.

use crate::kapi::compat::prelude::*;

mod kapi;
// Shared with marsadm, which uses items the module does not need.
#[path = "core/src/lib.rs"]
#[allow(dead_code, unreachable_pub)]
mod mars_core;
mod buffer;
mod clock;
mod conn;
mod context;
mod device;
mod digest;
mod fetch;
mod keys;
mod log;
mod logger;
mod meta;
mod proc_sys;
mod progress;
mod reader;
mod replay;
mod resource;
mod ring;
mod served;
mod strategy;
mod sync;
mod tree;
mod tunables;
mod writeback;

kapi::compat::module_compat! {
    type: Mars,
    name: "mars",
    author: "The MARS-rs authors",
    description: "MARS: asynchronous long-distance block-level replication",
    license: "GPL",
}

/// Module state: everything that must be torn down on unload, in field order: first
/// `/proc/sys/mars` (no more triggers), the peer thread, then the strategy thread (which
/// closes the listeners on ports 7777-7779 and detaches all resources; a device that is
/// open keeps the module loaded, so none is open here).
struct Mars {
    _proc_sys: proc_sys::ProcSys,
    _peers: kapi::thread::Thread,
    _strategy: strategy::Strategy,
}

impl kernel::Module for Mars {
    fn init(module: &'static ThisModule) -> Result<Self> {
        keys::choose_mac()?;
        let ctx = context::Context::new()?;
        let proc_sys = proc_sys::ProcSys::register(ctx.clone())?;
        let peers = meta::start_peers(ctx.clone())?;
        let strategy = strategy::Strategy::start(ctx, module)?;
        pr_info!("version {} loaded\n", mars_core::version::VERSION);
        Ok(Mars { _proc_sys: proc_sys, _peers: peers, _strategy: strategy })
    }
}

impl Drop for Mars {
    fn drop(&mut self) {
        pr_info!("version {} unloading\n", mars_core::version::VERSION);
    }
}
