// SPDX-License-Identifier: GPL-2.0

//! This host's cluster keys (docu/security.md): `/mars/cluster.key`, and during a
//! rotation `/mars/cluster.key.old`, read at every connection so that `marsadm
//! rotate-secret` takes effect at once. The MAC is the crypto API's HMAC-SHA256, by the
//! implementation that is fastest on this CPU ([`choose_mac`]).

use core::sync::atomic::{AtomicUsize, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;

use crate::kapi::file::OpenFlags;
use crate::kapi::hash::Hash;
use crate::digest;
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

/// The implementations of HMAC-SHA256 the module may use: first the crypto API's pick
/// (its highest priority one, e.g. by the CPU's SHA extensions or AVX2), then x86's other
/// vector variants and the plain C one; a kernel without one skips it. They compute the
/// same tags, so peers need not agree on one; [`choose_mac`] takes the fastest.
const HMAC_IMPLEMENTATIONS: [&CStr; 4] = [
    kernel::c_str!("hmac(sha256)"),
    kernel::c_str!("hmac(sha256-avx)"),
    kernel::c_str!("hmac(sha256-ssse3)"),
    kernel::c_str!("hmac(sha256-generic)"),
];

/// Index into [`HMAC_IMPLEMENTATIONS`] of the one [`choose_mac`] picked.
static HMAC_CHOSEN: AtomicUsize = AtomicUsize::new(0);

/// Picks the fastest HMAC-SHA256 implementation on this CPU, at load time, after checking
/// each against RFC 4231's test case 2.
pub(crate) fn choose_mac() -> Result {
    const KEY: &[u8] = b"Jefe";
    const MSG: &[u8] = b"what do ya want for nothing?";
    const ANSWER: [u8; TAG_LEN] = *b"\x5b\xdc\xc1\x46\xbf\x60\x75\x4e\x6a\x04\x24\x26\x08\x95\x75\xc7\
        \x5a\x00\x3f\x08\x9d\x27\x39\x83\x9d\xec\x58\xb9\x64\xec\x38\x43";
    let picked = digest::fastest("HMAC-SHA256", &HMAC_IMPLEMENTATIONS, Some(KEY), (MSG, &ANSWER))?;
    HMAC_CHOSEN.store(picked.index, Ordering::Relaxed);
    Ok(())
}

/// HMAC-SHA256 under one key.
pub(crate) struct KeyedMac(Hash);

impl KeyedMac {
    pub(crate) fn new(key: &[u8]) -> Result<KeyedMac> {
        let hash = Hash::keyed(HMAC_IMPLEMENTATIONS[HMAC_CHOSEN.load(Ordering::Relaxed)], key)?;
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
    let got = file.read_full_at(&mut text, 0)?;
    let key = auth::parse_key(&text[..got]).map_err(|_| {
        warn_limited(fmt!("/mars/{} does not hold 64 hex digits", name));
        EINVAL
    })?;
    KeyedMac::new(&key)
}
