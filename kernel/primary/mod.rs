// SPDX-License-Identifier: GPL-2.0

//! A primary's data path (docu/data-path.md): `/dev/mars/<name>` ([`device`]), the RAM
//! write buffer ([`buffer`], on the fixed-size queues of [`ring`]), reads overlaid with
//! buffered writes ([`reader`]), the transaction logger and its log-sync thread
//! ([`logger`]), the sorted writeback to the disk ([`writeback`]), and the logfile
//! positions these threads share ([`log`]: appended >= durable >= written >= reported).
//! Nothing here knows the network or the strategy.

pub(crate) mod buffer;
pub(crate) mod device;
pub(crate) mod log;
pub(crate) mod logger;
pub(crate) mod reader;
pub(crate) mod ring;
pub(crate) mod writeback;
