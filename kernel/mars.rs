// SPDX-License-Identifier: GPL-2.0

//! MARS: asynchronous long-distance block-level replication.
//!
//! This crate is the kernel module `mars.ko`. Layout:
//! - [`kapi`]: the only place with `unsafe`; thin safe wrappers over C kernel APIs.
//! - [`mars_core`]: formats and rules shared with marsadm (`kernel/core/`), plain `no_std` Rust.
//! - [`proc_sys`]: the `/proc/sys/mars` interface.

use kernel::prelude::*;

mod kapi;
// Shared with marsadm, which uses items the module does not need.
#[path = "core/src/lib.rs"]
#[allow(dead_code, unreachable_pub)]
mod mars_core;
mod proc_sys;

module! {
    type: Mars,
    name: "mars",
    author: "The MARS-rs authors",
    description: "MARS: asynchronous long-distance block-level replication",
    license: "GPL",
}

/// Module state: everything that must be torn down on unload, in field order.
struct Mars {
    _proc_sys: proc_sys::ProcSys,
}

impl kernel::Module for Mars {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let proc_sys = proc_sys::ProcSys::register()?;
        pr_info!("version {} loaded\n", mars_core::version::VERSION);
        Ok(Mars { _proc_sys: proc_sys })
    }
}

impl Drop for Mars {
    fn drop(&mut self) {
        pr_info!("version {} unloading\n", mars_core::version::VERSION);
    }
}
