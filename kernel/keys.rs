// SPDX-License-Identifier: GPL-2.0

//! This host's cluster keys (docu/security.md): `/mars/cluster.key`, and during a
//! rotation `/mars/cluster.key.old`, read at every connection so that `marsadm
//! rotate-secret` takes effect at once. The MAC is the crypto API's HMAC-SHA256.

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::fmt;
use kernel::prelude::*;
use kernel::str::CStr;

use crate::kapi::file::OpenFlags;
use crate::kapi::hash::Hash;
use crate::kapi::time::real_ns;
use crate::kapi::vfs;
use crate::mars_core::auth::{self, Mac, KEY_FILE, KEY_TEXT_LEN, OLD_KEY_FILE, TAG_LEN};
use crate::mars_core::ratelimit::{PeerLogLimit, Verdict};
use crate::tree::{path, ROOT};

/// Lines about unusable key files (every connection would say it): 2 per minute.
static KEY_LOG: PeerLogLimit<1> = PeerLogLimit::new(60_000_000_000, 2);

fn warn_limited(args: core::fmt::Arguments<'_>) {
    if let Verdict::Print { suppressed } = KEY_LOG.check(0, real_ns()) {
        pr_warn!("{} ({} more not shown)\n", args, suppressed);
    }
}

const HMAC: &CStr = kernel::c_str!("hmac(sha256)");

/// HMAC-SHA256 under one key.
pub(crate) struct KeyedMac(Hash);

impl KeyedMac {
    pub(crate) fn new(key: &[u8]) -> Result<KeyedMac> {
        let hash = Hash::keyed(HMAC, key)?;
        if hash.digest_len() != TAG_LEN {
            return Err(EINVAL);
        }
        Ok(KeyedMac(hash))
    }
}

impl Mac for KeyedMac {
    fn tag(&self, msg: &[u8]) -> Option<[u8; TAG_LEN]> {
        let mut out = [0u8; TAG_LEN];
        self.0.digest(msg, &mut out).ok()?;
        Some(out)
    }
}

/// The keys this host holds, current first.
pub(crate) struct Keys {
    keys: KVec<(u64, KeyedMac)>,
}

impl Keys {
    /// Reads the key files; `None` if there is no current key (not a member yet, or a
    /// tree made before keys existed).
    pub(crate) fn load() -> Result<Option<Keys>> {
        let mut keys = KVec::new();
        for (i, name) in [KEY_FILE, OLD_KEY_FILE].into_iter().enumerate() {
            match read_key(name) {
                Ok(mac) => {
                    let id = auth::key_id(&mac).map_err(|_| EINVAL)?;
                    keys.push((id, mac), GFP_KERNEL)?;
                }
                Err(e) if e == ENOENT && i > 0 => {}
                Err(e) if e == ENOENT => return Ok(None),
                Err(e) => {
                    warn_limited(fmt!("cannot use /mars/{}: {:?}", name, e));
                    return Err(e);
                }
            }
        }
        Ok(Some(Keys { keys }))
    }

    /// The ids a client offers: its current key's and, during a rotation, the old one's (or 0).
    pub(crate) fn offered(&self) -> [u64; 2] {
        [self.keys.first().map_or(0, |k| k.0), self.keys.get(1).map_or(0, |k| k.0)]
    }

    /// The ids this host accepts.
    pub(crate) fn ids(&self) -> [u64; 2] {
        self.offered()
    }

    /// The key with `id`.
    pub(crate) fn get(&self, id: u64) -> Option<&KeyedMac> {
        self.keys.iter().find(|k| k.0 == id && id != 0).map(|k| &k.1)
    }
}

/// Reads `/mars/<name>`: a regular file (never through a symlink, never a fifo that
/// would block) of 64 hex digits.
fn read_key(name: &str) -> Result<KeyedMac> {
    let file = vfs::open_in_dir(&path(fmt!("{}", ROOT))?, name, OpenFlags::READ.non_blocking(), 0)?;
    let mut text = [0u8; KEY_TEXT_LEN + 1];
    let mut got = 0;
    while got < text.len() {
        let n = file.read_at(&mut text[got..], got as u64)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let key = auth::parse_key(&text[..got]).map_err(|_| {
        warn_limited(fmt!("/mars/{} does not hold 64 hex digits", name));
        EINVAL
    })?;
    KeyedMac::new(&key)
}
