//! Which protocol version a connection speaks (docu/wire-protocol.md, "Versions"). The
//! client chooses: it offers the newest version it speaks; a server answers in the
//! version of the client's first frame when it speaks it. A server of protocol 4 closes
//! on a frame of another version, a server of 5 or later answers it with an
//! `UNSUPPORTED_VERSION` error in its own newest version; either way the client tries
//! an older version it speaks ([`fall_back`]) and remembers, per peer, what that peer
//! answered ([`PeerVersions`]) — for a while only, so it offers the newest version again
//! once the peer may have been upgraded.
//!
//! A fallback is not a weakness while every version spoken authenticates the same way
//! (docu/security.md, "Protocol versions"): the client checks that the server's answer
//! is in the version it offered, and the tags of every later frame cover the header,
//! version included.

use core::sync::atomic::{AtomicU64, Ordering};

use super::ratelimit::peer_key;
use super::wire::{speaks, Kind, PROTOCOL_VERSION};

/// What a server said to a client's first frame instead of a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// It closed the connection without a frame: a host of protocol 4 does that with a
    /// frame of a version it does not speak.
    Closed,
    /// An `UNSUPPORTED_VERSION` error in `newest`, the newest version the server speaks.
    Unsupported {
        /// The version of the error frame's header.
        newest: u16,
    },
}

/// The version a client tries next after its first frame in `tried` got `answer`:
/// the server's newest or, after a close, the one before `tried`; `None` when that is
/// not older than `tried` or not spoken here (the connection has failed).
pub fn fall_back(tried: u16, answer: Answer) -> Option<u16> {
    let next = match answer {
        Answer::Closed => tried.checked_sub(1)?,
        Answer::Unsupported { newest } => newest,
    };
    (next < tried && speaks(next)).then_some(next)
}

/// The version of a connection after a frame of version `got` (one spoken here) and
/// `kind` came in on it: `version`, the connection's (a server's is `None` until the
/// client's first frame: then that frame's). A frame of another version ends the
/// connection (`None`), but for a server's error before the key exchange (`keyed`):
/// the one that says it does not speak the client's version, in its own.
pub fn frame_version(version: Option<u16>, keyed: bool, got: u16, kind: Kind) -> Option<u16> {
    match version {
        None => Some(got),
        Some(v) if v == got || (!keyed && kind == Kind::Error) => Some(v),
        Some(_) => None,
    }
}

/// How long a client keeps offering a peer the older version it fell back to before it
/// offers the newest again: an upgraded peer gets the newest within this time, a peer
/// still old sees one refused connection per traffic class in it.
pub const REMEMBER_NS: u64 = 300 * 1_000_000_000;

struct Slot {
    /// `addr << 16 | version`, 0 for none.
    peer: AtomicU64,
    /// When (real time, ns) the peer answered in that version after a fallback.
    since_ns: AtomicU64,
}

/// Per peer address, the older version it answered in after a fallback, for
/// [`REMEMBER_NS`]. Lock-free (a `static` shared by the connection threads) and small:
/// `N` slots, a peer always in the same one (by its address); a peer whose slot another
/// one took is offered the newest version again and falls back again. Races between
/// threads can cost a fallback more, never a wrong version: every version offered is
/// one the answer decides on.
pub struct PeerVersions<const N: usize> {
    slots: [Slot; N],
}

impl<const N: usize> Default for PeerVersions<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> PeerVersions<N> {
    /// An empty table.
    pub const fn new() -> Self {
        PeerVersions { slots: [const { Slot { peer: AtomicU64::new(0), since_ns: AtomicU64::new(0) } }; N] }
    }

    fn slot(&self, addr: [u8; 4]) -> Option<&Slot> {
        self.slots.get((peer_key(&addr) % N.max(1) as u64) as usize)
    }

    fn key(addr: [u8; 4], version: u16) -> u64 {
        u64::from(u32::from_be_bytes(addr)) << 16 | u64::from(version)
    }

    /// The version to offer `addr` at `now_ns`: the one it answered in after a fallback
    /// less than [`REMEMBER_NS`] ago, else the newest.
    pub fn offer(&self, addr: [u8; 4], now_ns: u64) -> u16 {
        let Some(slot) = self.slot(addr) else { return PROTOCOL_VERSION };
        let peer = slot.peer.load(Ordering::Relaxed);
        let version = (peer & 0xffff) as u16;
        let since = slot.since_ns.load(Ordering::Relaxed);
        // A clock set back forgets too.
        let fresh = now_ns.checked_sub(since).is_some_and(|age| age < REMEMBER_NS);
        if peer >> 16 == u64::from(u32::from_be_bytes(addr)) && fresh && speaks(version) {
            version
        } else {
            PROTOCOL_VERSION
        }
    }

    /// `addr` answered in `version` after a fallback at `now_ns`: offered first to it
    /// for the next [`REMEMBER_NS`].
    pub fn fell_back(&self, addr: [u8; 4], version: u16, now_ns: u64) {
        if let Some(slot) = self.slot(addr) {
            slot.since_ns.store(now_ns, Ordering::Relaxed);
            slot.peer.store(Self::key(addr, version), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::wire::OLDEST_PROTOCOL_VERSION;

    #[test]
    fn a_client_falls_back_one_version_at_a_time_and_never_below_the_oldest() {
        // A host of protocol 4 closes on a frame of 5: the client retries with 4.
        assert_eq!(fall_back(PROTOCOL_VERSION, Answer::Closed), Some(PROTOCOL_VERSION - 1));
        assert_eq!(fall_back(OLDEST_PROTOCOL_VERSION, Answer::Closed), None);
        // A newer server names its newest version: taken if older than the one tried
        // and spoken here.
        assert_eq!(fall_back(PROTOCOL_VERSION, Answer::Unsupported { newest: OLDEST_PROTOCOL_VERSION }), Some(OLDEST_PROTOCOL_VERSION));
        for newest in [PROTOCOL_VERSION, PROTOCOL_VERSION + 1, OLDEST_PROTOCOL_VERSION - 1, 0] {
            assert_eq!(fall_back(PROTOCOL_VERSION, Answer::Unsupported { newest }), None, "{newest}");
        }
        assert_eq!(fall_back(0, Answer::Closed), None);
    }

    #[test]
    fn a_connection_speaks_one_version() {
        let (old, new) = (OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION);
        // A server takes the client's first frame's version.
        assert_eq!(frame_version(None, false, old, Kind::AuthHello), Some(old));
        assert_eq!(frame_version(None, false, new, Kind::AuthHello), Some(new));
        assert_eq!(frame_version(Some(old), true, old, Kind::GetTree), Some(old));
        // Another version later ends the connection, tagged or not.
        assert_eq!(frame_version(Some(old), true, new, Kind::GetTree), None);
        assert_eq!(frame_version(Some(new), true, old, Kind::Error), None);
        assert_eq!(frame_version(Some(new), false, old, Kind::AuthChallenge), None);
        // But a server's unsupported-version error before the key exchange is heard.
        assert_eq!(frame_version(Some(new), false, old, Kind::Error), Some(new));
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_fallback_is_remembered_per_peer_for_a_while() {
        let t = PeerVersions::<16>::new();
        let (old, new) = ([10, 77, 0, 2], [10, 77, 0, 3]);
        assert_eq!(t.offer(old, 100 * S), PROTOCOL_VERSION);
        t.fell_back(old, OLDEST_PROTOCOL_VERSION, 100 * S);
        assert_eq!(t.offer(old, 100 * S + REMEMBER_NS - 1), OLDEST_PROTOCOL_VERSION);
        assert_ne!(peer_key(&old) % 16, peer_key(&new) % 16, "test addresses must land in different slots");
        assert_eq!(t.offer(new, 101 * S), PROTOCOL_VERSION);
        // Then the newest again: the peer may have been upgraded.
        assert_eq!(t.offer(old, 100 * S + REMEMBER_NS), PROTOCOL_VERSION);
        // A clock set back forgets.
        t.fell_back(old, OLDEST_PROTOCOL_VERSION, 1000 * S);
        assert_eq!(t.offer(old, 1000 * S), OLDEST_PROTOCOL_VERSION);
        assert_eq!(t.offer(old, 999 * S), PROTOCOL_VERSION);
    }

    #[test]
    fn a_peer_in_the_same_slot_is_not_taken_for_another() {
        let t = PeerVersions::<1>::new();
        t.fell_back([10, 0, 0, 1], OLDEST_PROTOCOL_VERSION, S);
        assert_eq!(t.offer([10, 0, 0, 2], S), PROTOCOL_VERSION);
        t.fell_back([10, 0, 0, 2], OLDEST_PROTOCOL_VERSION, S);
        assert_eq!(t.offer([10, 0, 0, 1], S), PROTOCOL_VERSION);
        assert_eq!(t.offer([10, 0, 0, 2], S), OLDEST_PROTOCOL_VERSION);
        // Extreme clocks do not overflow.
        t.fell_back([10, 0, 0, 2], OLDEST_PROTOCOL_VERSION, u64::MAX);
        assert_eq!(t.offer([10, 0, 0, 2], u64::MAX), OLDEST_PROTOCOL_VERSION);
        assert_eq!(t.offer([10, 0, 0, 2], 0), PROTOCOL_VERSION);
        let none = PeerVersions::<0>::new();
        none.fell_back([1, 2, 3, 4], OLDEST_PROTOCOL_VERSION, S);
        assert_eq!(none.offer([1, 2, 3, 4], S), PROTOCOL_VERSION);
    }
}
