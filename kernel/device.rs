// SPDX-License-Identifier: GPL-2.0

//! `/dev/mars/<name>` on the primary: what happens to each bio.
//!
//! Current stage: reads and writes go straight to the underlying disk (the transaction
//! logger and writeback buffer take over writes next). Discards are not advertised, and
//! refused if they arrive anyway: never acknowledged without effect.

use kernel::sync::Arc;

use crate::kapi::bdev::BlockDevice;
use crate::kapi::gendisk::{Bio, BioHandler, BioOp, BioStatus};

/// The bio handler of a primary's device.
pub(crate) struct Device {
    pub(crate) lower: Arc<BlockDevice>,
}

impl BioHandler for Device {
    fn submit(&self, bio: Bio) {
        match bio.op() {
            BioOp::Read | BioOp::Write => bio.submit_to(&self.lower),
            BioOp::Discard | BioOp::Other => bio.end(BioStatus::NotSupported),
        }
    }
}
