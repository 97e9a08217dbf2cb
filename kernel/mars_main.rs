// SPDX-License-Identifier: GPL-2.0

//! MARS: asynchronous long-distance block-level replication.
//!
//! This crate is the kernel module `mars.ko`. Its layers, each using only those above
//! it in this list (docu/architecture.md):
//! - [`kapi`]: the only place with `unsafe`; thin safe wrappers over C kernel APIs.
//! - [`mars_core`]: formats, rules and decisions shared with marsadm and the protocol
//!   simulation (`kernel/core/`), plain `no_std` Rust.
//! - [`clock`], [`context`], [`digest`], [`tunables`]: what every service may use (the
//!   Lamport clock, record digests, the trigger of a strategy round: the context), and
//!   the module-wide tunables and counters.
//! - [`tree`]: the `/mars` symlink tree and the cluster keys.
//! - [`primary`]: a primary's data path (device, buffer, logger, writeback, positions).
//! - [`net`]: connections, the metadata exchange, the fetch and sync servers.
//! - [`secondary`]: fetch, replay (also a primary's recovery), full sync.
//! - [`control`]: the strategy thread and the resources' lifecycle; `/proc/sys/mars`.

use crate::kapi::compat::prelude::*;

mod kapi;
// Shared with marsadm, which uses items the module does not need.
#[path = "core/src/lib.rs"]
#[allow(dead_code, unreachable_pub)]
mod mars_core;
mod clock;
mod context;
mod control;
mod digest;
mod net;
mod primary;
mod secondary;
mod tree;
mod tunables;

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
    _proc_sys: control::proc_sys::ProcSys,
    _peers: kapi::thread::Thread,
    _strategy: control::strategy::Strategy,
}

impl kernel::Module for Mars {
    fn init(module: &'static ThisModule) -> Result<Self> {
        tree::keys::choose_mac()?;
        let ctx = context::Context::new()?;
        let proc_sys = control::proc_sys::ProcSys::register(ctx.clone())?;
        let peers = net::meta::start_peers(ctx.clone())?;
        let strategy = control::strategy::Strategy::start(ctx, module)?;
        pr_info!("version {} loaded\n", mars_core::version::VERSION);
        Ok(Mars { _proc_sys: proc_sys, _peers: peers, _strategy: strategy })
    }
}

impl Drop for Mars {
    fn drop(&mut self) {
        pr_info!("version {} unloading\n", mars_core::version::VERSION);
    }
}
