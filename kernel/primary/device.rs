// SPDX-License-Identifier: GPL-2.0

//! `/dev/mars/<name>` on the primary: what happens to each bio (docu/data-path.md).
//!
//! Writes go into the RAM write buffer (`buffer`), which queues them for the logger; a
//! flush is queued there too. Reads return the newest data (`reader`). Nothing waits
//! for disk I/O in the submitter's context (it would wait behind the submitter's own
//! bio list); a writer may wait for room in the buffer, which the writeback frees.
//! Discards are not advertised, and refused if they arrive anyway: never acknowledged
//! without effect.

use kernel::sync::Arc;

use crate::primary::buffer::WriteBuffer;
use crate::kapi::bdev::BlockDevice;
use crate::kapi::gendisk::{Bio, BioHandler, BioOp, BioStatus};
use crate::kapi::memalloc::NoIoScope;
use crate::primary::reader::ReadQueue;
use crate::context::Context;

/// The bio handler of a primary's device.
pub(crate) struct Device {
    pub(crate) buffer: Arc<WriteBuffer>,
    pub(crate) reads: Arc<ReadQueue>,
    pub(crate) lower: Arc<BlockDevice>,
    /// To report a changed open count at once (marsadm waits for it on detach/secondary).
    pub(crate) ctx: Arc<Context>,
}

impl BioHandler for Device {
    fn submit(&self, bio: Bio) {
        let _noio = NoIoScope::enter();
        let Some(bio) = bio.split_to_limits() else { return };
        match bio.op() {
            BioOp::Read => match self.buffer.overlapping(bio.pos(), bio.len() as u64) {
                Ok(overlays) => self.reads.read(bio, overlays, &self.lower),
                Err(_) => bio.end(BioStatus::IoError),
            },
            // An empty write with REQ_PREFLUSH is a flush.
            BioOp::Write if bio.len() == 0 => self.buffer.flush(bio),
            BioOp::Write => self.buffer.write(bio),
            BioOp::Discard | BioOp::Other => bio.end(BioStatus::NotSupported),
        }
    }

    fn released(&self) {
        self.ctx.trigger();
    }
}
