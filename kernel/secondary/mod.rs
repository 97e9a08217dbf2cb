// SPDX-License-Identifier: GPL-2.0

//! What a secondary runs per resource: the fetch of the primary's logfiles ([`fetch`]),
//! their replay onto the disk ([`replay`], also a primary's crash recovery), the full
//! sync of a disk that is not yet a copy ([`sync`]), and the rates they report
//! ([`progress`]). The decisions (which logfile next, where a sync starts, when a
//! switchover is allowed) are `mars_core`'s.

pub(crate) mod fetch;
pub(crate) mod progress;
pub(crate) mod replay;
pub(crate) mod sync;
