//! Property-based fuzzing of the wire decoder: whatever bytes a peer sends, decoding
//! never panics, never reads past its input, and accepts only what encodes back to the
//! same bytes. A bounded run is part of `make check`.

use mars_core::wire::{decode_frame, Message, HEADER_LEN, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,14}"
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec("[A-Za-z0-9._-]{1,12}".prop_filter("not . or ..", |c| c != "." && c != ".."), 1..4)
        .prop_map(|v| v.join("/"))
}

/// Owned inputs for one message of every kind.
#[derive(Debug, Clone)]
enum Spec {
    Hello(String, String, u64, u32),
    Error(u32, String),
    GetTree(Vec<String>),
    Entry(String, String, u64),
    End(u64),
    Fetch(String, u64, u32),
    Data(u64, u64, Vec<u8>),
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        ("[ -~]{1,40}", name(), any::<u64>(), 0u32..2).prop_map(|(c, h, l, f)| Spec::Hello(c, h, l, f)),
        (any::<u32>(), "[ -~]{0,80}").prop_map(|(c, m)| Spec::Error(c, m)),
        prop::collection::vec(path(), 1..5).prop_map(Spec::GetTree),
        (path(), "[ -~]{0,60}", any::<u64>()).prop_map(|(p, v, s)| Spec::Entry(p, v, s)),
        any::<u64>().prop_map(Spec::End),
        (path(), any::<u64>(), 1u32..(1 << 20)).prop_map(|(p, o, m)| Spec::Fetch(p, o, m)),
        (0u64..1 << 40, prop::collection::vec(any::<u8>(), 0..300), 0u64..1000)
            .prop_map(|(o, d, extra)| Spec::Data(o, o + d.len() as u64 + extra, d)),
    ]
}

fn encode(s: &Spec, version: u16) -> Vec<u8> {
    let dirs;
    let m = match s {
        Spec::Hello(c, h, l, f) => Message::Hello { cluster: c, host: h, lamport_ns: *l, flags: *f },
        Spec::Error(c, m) => Message::Error { code: *c, message: m },
        Spec::GetTree(d) => {
            dirs = d.join("|");
            Message::GetTree { dirs: &dirs }
        }
        Spec::Entry(p, v, st) => Message::TreeEntry { path: p, value: v, stamp_ns: *st },
        Spec::End(l) => Message::TreeEnd { lamport_ns: *l },
        Spec::Fetch(p, o, m) => Message::FetchLog { path: p, offset: *o, max_len: *m },
        Spec::Data(o, size, d) => Message::LogData { offset: *o, file_size: *size, data: d },
    };
    let mut buf = vec![0u8; HEADER_LEN + 8192];
    let n = m.encode(version, &mut buf).expect("valid message encodes");
    buf.truncate(n);
    let (v, back, used) = decode_frame(&buf).expect("encoded frame decodes");
    assert_eq!((v, back), (version, m));
    assert_eq!(used, n);
    buf
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok((_, _, used)) = decode_frame(&bytes) {
            prop_assert!(used <= bytes.len());
        }
    }

    #[test]
    fn valid_messages_round_trip(s in spec(), version in OLDEST_PROTOCOL_VERSION..=PROTOCOL_VERSION) {
        encode(&s, version);
    }

    #[test]
    fn mutated_frames_are_refused_or_reencode_identically(
        s in spec(),
        version in OLDEST_PROTOCOL_VERSION..=PROTOCOL_VERSION,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = encode(&s, version);
        for (at, v) in &edits {
            let i = at.index(buf.len());
            buf[i] = *v;
        }
        let len = cut.index(buf.len() + 1);
        let input = &buf[..len];
        if let Ok((v, m, used)) = decode_frame(input) {
            // Anything accepted is a well-formed frame that encodes to exactly its bytes.
            let mut again = vec![0u8; used + 16];
            let n = m.encode(v, &mut again).unwrap();
            prop_assert_eq!(&again[..n], &input[..used]);
        }
    }
}
