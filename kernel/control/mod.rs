// SPDX-License-Identifier: GPL-2.0

//! The control layer: the strategy thread `mars_main` ([`strategy`]), which reads the
//! `/mars` tree each round, decides with `mars_core::round` and brings every resource
//! into the role the tree asks for ([`resource`]: attach, primary, secondary, recovery,
//! takeover, emergency), and the `/proc/sys/mars` interface ([`proc_sys`]). The only
//! layer that knows the others; nothing below imports it.

pub(crate) mod proc_sys;
pub(crate) mod resource;
pub(crate) mod strategy;
