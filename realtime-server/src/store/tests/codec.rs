//! The record encoding: round trips, and damaged bytes give errors, never panics.

use super::super::codec::*;
use super::*;
use proptest::prelude::*;

/// Every record type decodes to what was encoded.
#[test]
fn records_round_trip() {
    let m = StoredMessage {
        properties: Bytes::from_static(b"\x26\x00\x01k\x00\x01v"),
        expiry_at_unix_ms: Some(5),
        ..msg(9)
    };
    assert_eq!(decode_message(&encode_message(&m)).unwrap(), m);
    let mut s = session("c");
    s.disconnected_at_unix_ms = Some(1);
    s.will = Some((m, 10));
    assert_eq!(
        decode_session(&session_key("c"), &encode_session(&s)).unwrap(),
        s
    );
    let mut sb = sub("c", "$share/g/a/+");
    sb.subscription_id = Some(77);
    assert_eq!(
        decode_subscription(
            &subscription_key("c", &sb.filter),
            &encode_subscription(&sb)
        )
        .unwrap(),
        sb
    );
    let mut o = out("c", 3, 9);
    o.subscription_ids = vec![1, 2];
    o.state = OutboundState::Released { packet_id: 513 };
    assert_eq!(
        decode_outbound(&outbound_key("c", 3), &encode_outbound(&o)).unwrap(),
        o
    );
    assert_eq!(
        decode_incoming(&incoming_key("c", 65535)).unwrap(),
        ("c".into(), 65535)
    );
    assert_eq!(
        decode_retained(&retained_key("r/t"), &encode_retained(9)).unwrap(),
        ("r/t".into(), 9)
    );
}

/// A value written by a newer format version is refused (Corrupt), not misread.
#[test]
fn unknown_format_version_is_refused() {
    let mut v = encode_message(&msg(1));
    v[0] = FORMAT + 1;
    assert!(matches!(
        decode_message(&v),
        Err(StoreError::Corrupt { .. })
    ));
}

/// Every strict prefix of an encoded outbound record or session is refused
/// (lengths are checked against the bytes present).
#[test]
fn truncated_records_are_refused() {
    let mut o = out("c", 3, 9);
    o.subscription_ids = vec![1, 2, 3];
    let v = encode_outbound(&o);
    for n in 0..v.len() {
        assert!(
            decode_outbound(&outbound_key("c", 3), &v[..n]).is_err(),
            "prefix {n}"
        );
    }
    let mut s = session("c");
    s.disconnected_at_unix_ms = Some(1);
    let v = encode_session(&s);
    for n in 0..v.len() {
        assert!(decode_session(b"c", &v[..n]).is_err(), "prefix {n}");
    }
}

proptest! {
    /// Arbitrary bytes in any table decode to a record or an error, never a
    /// panic or a huge allocation (a damaged file must not take the broker down).
    #[test]
    fn arbitrary_bytes_never_panic(key in proptest::collection::vec(any::<u8>(), 0..40),
                                   value in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = decode_message(&value);
        let _ = decode_message_key(&key);
        let _ = decode_session(&key, &value);
        let _ = decode_subscription(&key, &value);
        let _ = decode_outbound(&key, &value);
        let _ = decode_incoming(&key);
        let _ = decode_retained(&key, &value);
    }

    /// Outbound state patching equals re-encoding with the new state.
    #[test]
    fn state_patch_equals_reencode(ids in proptest::collection::vec(any::<u32>(), 0..5), pid in any::<u16>(), tag in 0u8..3) {
        let mut o = out("c", 1, 2);
        o.subscription_ids = ids;
        let mut v = encode_outbound(&o);
        o.state = match tag {
            0 => OutboundState::Queued,
            1 => OutboundState::Sent { packet_id: pid },
            _ => OutboundState::Released { packet_id: pid },
        };
        set_outbound_state(&mut v, o.state);
        prop_assert_eq!(v, encode_outbound(&o));
    }
}
