// SPDX-License-Identifier: GPL-2.0

//! Progress rates of a secondary's sync, fetch and replay, reported as
//! `resource-<res>/actual-<me>/<what>-rate` (bytes per second over the last few seconds)
//! for `marsadm view`'s progress lines and remaining-time estimates.

use crate::kapi::compat::prelude::*;

use crate::kapi::time::real_ns;
use crate::tree::{host_name, path, Tree, ROOT};
use crate::mars_core::tree::RESOURCE_PREFIX;

/// Rates are averaged over (at least) this long.
const WINDOW_NS: u64 = 2_000_000_000;

/// Bytes done since the window started.
pub(crate) struct RateMeter {
    /// Link name, e.g. `sync-rate`.
    name: &'static str,
    since_ns: u64,
    bytes: u64,
}

impl RateMeter {
    pub(crate) fn new(name: &'static str) -> Self {
        RateMeter { name, since_ns: real_ns(), bytes: 0 }
    }

    pub(crate) fn add(&mut self, bytes: u64) {
        self.bytes += bytes;
    }

    /// Writes the rate once a window has passed (idle windows report 0).
    pub(crate) fn tick(&mut self, tree: &Tree<'_>, res: &str) {
        let now = real_ns();
        let elapsed = now.saturating_sub(self.since_ns);
        if elapsed < WINDOW_NS {
            return;
        }
        // Per millisecond first: no 128-bit division in the kernel.
        let rate = self.bytes.saturating_mul(1000) / (elapsed / 1_000_000).max(1);
        (self.since_ns, self.bytes) = (now, 0);
        // Best effort: a rate that cannot be written is shown stale, nothing worse.
        let _ = write_rate(tree, res, self.name, rate);
    }
}

fn write_rate(tree: &Tree<'_>, res: &str, name: &str, rate: u64) -> Result {
    let me = host_name()?;
    let me = core::str::from_utf8(&me).map_err(|_| EINVAL)?;
    let dir = path(fmt!("{}/{}{}/actual-{}", ROOT, RESOURCE_PREFIX, res, me))?;
    let value = path(fmt!("{}", rate))?;
    tree.write(&dir, name, value.to_str().map_err(|_| EINVAL)?)
}
