// SPDX-License-Identifier: GPL-2.0

//! The network (docu/wire-protocol.md, docu/security.md): framed authenticated
//! connections and listeners ([`conn`]), the metadata exchange on the base port
//! ([`meta`]), and the servers of a primary's logfiles ([`fetch_server`], base + 1) and
//! disk ([`sync_server`], base + 2), which see the resources this host is primary of
//! through [`served`]. The clients are a secondary's threads (`secondary`).

pub(crate) mod conn;
pub(crate) mod fetch_server;
pub(crate) mod meta;
pub(crate) mod served;
pub(crate) mod sync_server;
