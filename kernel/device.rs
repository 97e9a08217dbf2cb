// SPDX-License-Identifier: GPL-2.0

//! `/dev/mars/<name>` on the primary: what happens to each bio.
//!
//! Every request goes to the transaction logger's queue: writes and flushes complete
//! once logged (durably, if the request asks for it) and written back; reads are served
//! in queue order from the disk through its page cache, which every completed write has
//! reached. Nothing waits for disk I/O in the submitter's context (that would deadlock
//! behind the submitter's own bio list). Discards are not advertised, and refused if they
//! arrive anyway: never acknowledged without effect.

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::sync::Arc;

use crate::kapi::gendisk::{Bio, BioHandler, BioOp, BioStatus};
use crate::kapi::memalloc::NoIoScope;
use crate::logger::{LogQueue, Request};

/// The bio handler of a primary's device.
pub(crate) struct Device {
    pub(crate) queue: Arc<LogQueue>,
}

impl Device {
    fn write(&self, bio: Bio) {
        let Ok(mut data) = KVec::from_elem(0u8, bio.len() as usize, GFP_KERNEL) else {
            return bio.end(BioStatus::IoError);
        };
        if bio.copy_to(&mut data).is_err() {
            return bio.end(BioStatus::IoError);
        }
        let durable = bio.is_preflush() || bio.is_fua() || bio.is_sync();
        self.queue.push(Request::Write { pos: bio.pos(), data, bio, durable });
    }
}

impl BioHandler for Device {
    fn submit(&self, bio: Bio) {
        let _noio = NoIoScope::enter();
        let Some(bio) = bio.split_to_limits() else { return };
        match bio.op() {
            BioOp::Read => self.queue.push(Request::Read { bio }),
            // An empty write with REQ_PREFLUSH is a flush.
            BioOp::Write if bio.len() == 0 => self.queue.push(Request::Flush { bio }),
            BioOp::Write => self.write(bio),
            BioOp::Discard | BioOp::Other => bio.end(BioStatus::NotSupported),
        }
    }
}
