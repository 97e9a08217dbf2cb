//! Bounds on the connections a listener serves at once (docu/wire-protocol.md,
//! "Listeners"): each connection has its own thread, so a slow or silent peer holds only
//! its own; these bounds keep a peer that opens many from taking all threads.

/// Connections served at once on one port, from all peers together.
pub const MAX_PER_PORT: usize = 32;

/// Connections served at once on one port from one address. A member needs one per
/// resource on the fetch and sync ports (one fetcher, one syncer each) and one on the
/// metadata port; more resources than this between two hosts wait their turn.
pub const MAX_PER_PEER: usize = 8;

/// Whether a new connection is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Serve it.
    Admit,
    /// Closed at once: the port serves [`MAX_PER_PORT`] connections already.
    PortFull,
    /// Closed at once: its address has [`MAX_PER_PEER`] connections already.
    PeerFull,
}

/// Decides on a connection from `peer`, given the addresses of the connections the port
/// serves now.
pub fn admit<'a>(open: impl IntoIterator<Item = &'a [u8; 4]>, peer: [u8; 4]) -> Admission {
    let (mut total, mut from_peer) = (0usize, 0usize);
    for addr in open {
        total = total.saturating_add(1);
        if *addr == peer {
            from_peer = from_peer.saturating_add(1);
        }
    }
    if from_peer >= MAX_PER_PEER {
        Admission::PeerFull
    } else if total >= MAX_PER_PORT {
        Admission::PortFull
    } else {
        Admission::Admit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_per_peer_and_per_port() {
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let mut open = Vec::new();
        for _ in 0..MAX_PER_PEER {
            assert_eq!(admit(&open, a), Admission::Admit);
            open.push(a);
        }
        assert_eq!(admit(&open, a), Admission::PeerFull);
        // Another peer is still served while one peer is at its bound.
        assert_eq!(admit(&open, b), Admission::Admit);
        let mut n = 0u8;
        while open.len() < MAX_PER_PORT {
            open.push([10, 1, 0, n]);
            n += 1;
        }
        assert_eq!(admit(&open, b), Admission::PortFull);
        assert_eq!(admit(&[], a), Admission::Admit);
    }
}
