//! One test per op, and the message reference counting.

use super::*;

fn ids(s: &Snapshot) -> Vec<u64> {
    s.messages.keys().copied().collect()
}

/// PutSession creates, a second PutSession replaces (same client id).
#[test]
fn put_session_creates_and_replaces() {
    each_store(|st| {
        ok(st, vec![StoreOp::PutSession(session("a"))]);
        let mut newer = session("a");
        newer.expiry_interval_secs = 7;
        newer.protocol_version = 4;
        newer.disconnected_at_unix_ms = Some(123);
        ok(
            st,
            vec![
                StoreOp::PutSession(newer.clone()),
                StoreOp::PutSession(session("b")),
            ],
        );
        assert_eq!(st.load().unwrap().sessions, vec![newer, session("b")]);
    });
}

/// DeleteSession cascades: the session's subscriptions, outbound records and
/// incoming QoS 2 ids go, and the messages only they referenced; another
/// session's records stay.
#[test]
fn delete_session_cascades() {
    each_store(|st| {
        let mut batch = vec![StoreOp::PutMessage(msg(1)), StoreOp::PutMessage(msg(2))];
        for c in ["a", "b"] {
            batch.push(StoreOp::PutSession(session(c)));
            batch.push(StoreOp::PutSubscription(sub(c, "x/#")));
            batch.push(StoreOp::PutSubscription(sub(c, "$share/g/y")));
            batch.push(StoreOp::PutIncomingQos2 {
                client_id: c.into(),
                packet_id: 9,
            });
        }
        batch.push(StoreOp::PutOutbound(out("a", 0, 1)));
        batch.push(StoreOp::PutOutbound(out("a", 1, 2)));
        batch.push(StoreOp::PutOutbound(out("b", 0, 2)));
        ok(st, batch);
        ok(
            st,
            vec![StoreOp::DeleteSession {
                client_id: "a".into(),
            }],
        );
        let s = st.load().unwrap();
        assert_eq!(s.sessions, vec![session("b")]);
        assert_eq!(
            s.subscriptions,
            vec![sub("b", "$share/g/y"), sub("b", "x/#")]
        );
        assert_eq!(s.outbound, vec![out("b", 0, 2)]);
        assert_eq!(s.incoming_qos2, vec![("b".to_string(), 9)]);
        assert_eq!(ids(&s), vec![2], "message 1 was only referenced by a");
    });
}

/// DeleteSession of an unknown client is a no-op, not an error.
#[test]
fn delete_unknown_session_is_noop() {
    each_store(|st| {
        ok(st, vec![StoreOp::PutSession(session("a"))]);
        ok(
            st,
            vec![StoreOp::DeleteSession {
                client_id: "zz".into(),
            }],
        );
        assert_eq!(st.load().unwrap().sessions.len(), 1);
    });
}

/// PutSubscription creates or replaces (client, filter); DeleteSubscription
/// removes it and ignores an absent one.
#[test]
fn put_and_delete_subscription() {
    each_store(|st| {
        ok(st, vec![StoreOp::PutSubscription(sub("a", "s/+"))]);
        let mut changed = sub("a", "s/+");
        changed.options = 0b0010_1110;
        changed.subscription_id = Some(268_435_455);
        ok(
            st,
            vec![
                StoreOp::PutSubscription(changed.clone()),
                StoreOp::PutSubscription(sub("a", "t")),
            ],
        );
        assert_eq!(
            st.load().unwrap().subscriptions,
            vec![changed, sub("a", "t")]
        );
        ok(
            st,
            vec![
                StoreOp::DeleteSubscription {
                    client_id: "a".into(),
                    filter: "s/+".into(),
                },
                StoreOp::DeleteSubscription {
                    client_id: "a".into(),
                    filter: "absent".into(),
                },
            ],
        );
        assert_eq!(st.load().unwrap().subscriptions, vec![sub("a", "t")]);
    });
}

/// A message nobody references by the end of its batch is not kept.
#[test]
fn unreferenced_message_is_dropped_at_end_of_batch() {
    each_store(|st| {
        ok(st, vec![StoreOp::PutMessage(msg(1))]);
        assert!(st.load().unwrap().messages.is_empty());
        // Referenced then released within one batch: gone too.
        ok(
            st,
            vec![
                StoreOp::PutMessage(msg(2)),
                StoreOp::PutOutbound(out("a", 0, 2)),
                StoreOp::DeleteOutbound {
                    client_id: "a".into(),
                    seq: 0,
                },
            ],
        );
        let s = st.load().unwrap();
        assert!(s.messages.is_empty() && s.outbound.is_empty());
    });
}

/// A message shared by several outbound records (fan-out) is stored once and
/// deleted with the last reference.
#[test]
fn message_lives_until_last_outbound_reference() {
    each_store(|st| {
        ok(
            st,
            vec![
                StoreOp::PutMessage(msg(7)),
                StoreOp::PutOutbound(out("a", 0, 7)),
                StoreOp::PutOutbound(out("b", 0, 7)),
            ],
        );
        ok(
            st,
            vec![StoreOp::DeleteOutbound {
                client_id: "a".into(),
                seq: 0,
            }],
        );
        assert_eq!(ids(&st.load().unwrap()), vec![7]);
        ok(
            st,
            vec![StoreOp::DeleteOutbound {
                client_id: "b".into(),
                seq: 0,
            }],
        );
        let s = st.load().unwrap();
        assert!(s.messages.is_empty() && s.outbound.is_empty());
    });
}

/// PutOutbound over an existing (client, seq) replaces it and releases the
/// message the old record referenced.
#[test]
fn put_outbound_replaces_and_releases_old_message() {
    each_store(|st| {
        ok(
            st,
            vec![
                StoreOp::PutMessage(msg(1)),
                StoreOp::PutOutbound(out("a", 5, 1)),
            ],
        );
        let mut rec = out("a", 5, 2);
        rec.qos = 2;
        rec.retain = true;
        rec.subscription_ids = vec![1, 2, 268_435_455];
        ok(
            st,
            vec![
                StoreOp::PutMessage(msg(2)),
                StoreOp::PutOutbound(rec.clone()),
            ],
        );
        let s = st.load().unwrap();
        assert_eq!(s.outbound, vec![rec]);
        assert_eq!(ids(&s), vec![2]);
    });
}

/// SetOutboundState walks Queued -> Sent -> Released (QoS 2 after PUBREC,
/// MQTT-4.3.3) and keeps the rest of the record.
#[test]
fn set_outbound_state_transitions() {
    each_store(|st| {
        let mut rec = out("a", 1, 1);
        rec.subscription_ids = vec![4];
        ok(
            st,
            vec![
                StoreOp::PutMessage(msg(1)),
                StoreOp::PutOutbound(rec.clone()),
            ],
        );
        for state in [
            OutboundState::Sent { packet_id: 65535 },
            OutboundState::Released { packet_id: 65535 },
            OutboundState::Queued,
            OutboundState::Sent { packet_id: 1 },
        ] {
            ok(
                st,
                vec![StoreOp::SetOutboundState {
                    client_id: "a".into(),
                    seq: 1,
                    state,
                }],
            );
            rec.state = state;
            assert_eq!(st.load().unwrap().outbound, vec![rec.clone()]);
        }
    });
}

/// Each session's outbound records load in numeric seq order, grouped by session.
#[test]
fn outbound_loads_in_seq_order_per_session() {
    each_store(|st| {
        let seqs = [256u64, 1, 65_536, 0, u64::MAX, 255];
        let mut batch = vec![StoreOp::PutMessage(msg(1))];
        for (i, s) in seqs.iter().enumerate() {
            let c = if i % 2 == 0 { "bb" } else { "a" };
            batch.push(StoreOp::PutOutbound(out(c, *s, 1)));
        }
        ok(st, batch);
        let got: Vec<(String, u64)> = st
            .load()
            .unwrap()
            .outbound
            .into_iter()
            .map(|o| (o.client_id, o.seq))
            .collect();
        let want = [
            ("a", 0),
            ("a", 1),
            ("a", 255),
            ("bb", 256),
            ("bb", 65_536),
            ("bb", u64::MAX),
        ];
        let want: Vec<(String, u64)> = want.iter().map(|(c, s)| (c.to_string(), *s)).collect();
        assert_eq!(got, want);
    });
}

/// Incoming QoS 2 packet ids (PUBREC sent, PUBREL awaited, MQTT-4.3.3-9) are
/// kept per session until deleted.
#[test]
fn incoming_qos2_put_and_delete() {
    each_store(|st| {
        ok(
            st,
            vec![
                StoreOp::PutIncomingQos2 {
                    client_id: "a".into(),
                    packet_id: 1,
                },
                StoreOp::PutIncomingQos2 {
                    client_id: "a".into(),
                    packet_id: 65535,
                },
                StoreOp::PutIncomingQos2 {
                    client_id: "a".into(),
                    packet_id: 1,
                },
            ],
        );
        assert_eq!(
            st.load().unwrap().incoming_qos2,
            vec![("a".into(), 1), ("a".into(), 65535)]
        );
        ok(
            st,
            vec![
                StoreOp::DeleteIncomingQos2 {
                    client_id: "a".into(),
                    packet_id: 1,
                },
                StoreOp::DeleteIncomingQos2 {
                    client_id: "a".into(),
                    packet_id: 2,
                },
            ],
        );
        assert_eq!(st.load().unwrap().incoming_qos2, vec![("a".into(), 65535)]);
    });
}

/// PutRetained replaces a topic's retained message (releasing the old body,
/// MQTT-3.3.1-5), DeleteRetained clears it (MQTT-3.3.1-6).
#[test]
fn retained_replace_and_delete() {
    each_store(|st| {
        ok(
            st,
            vec![
                StoreOp::PutMessage(msg(1)),
                StoreOp::PutRetained {
                    topic: "r".into(),
                    message_id: 1,
                },
            ],
        );
        ok(
            st,
            vec![
                StoreOp::PutMessage(msg(2)),
                StoreOp::PutRetained {
                    topic: "r".into(),
                    message_id: 2,
                },
            ],
        );
        let s = st.load().unwrap();
        assert_eq!(s.retained, vec![("r".into(), 2)]);
        assert_eq!(ids(&s), vec![2]);
        ok(
            st,
            vec![
                StoreOp::DeleteRetained { topic: "r".into() },
                StoreOp::DeleteRetained {
                    topic: "never".into(),
                },
            ],
        );
        let s = st.load().unwrap();
        assert!(s.retained.is_empty() && s.messages.is_empty());
    });
}

/// One message may be both retained and queued: it stays until both go.
#[test]
fn retained_and_outbound_share_a_message() {
    each_store(|st| {
        ok(
            st,
            vec![
                StoreOp::PutMessage(msg(3)),
                StoreOp::PutRetained {
                    topic: "r".into(),
                    message_id: 3,
                },
                StoreOp::PutOutbound(out("a", 0, 3)),
            ],
        );
        ok(st, vec![StoreOp::DeleteRetained { topic: "r".into() }]);
        assert_eq!(ids(&st.load().unwrap()), vec![3]);
        ok(
            st,
            vec![StoreOp::DeleteOutbound {
                client_id: "a".into(),
                seq: 0,
            }],
        );
        assert!(st.load().unwrap().messages.is_empty());
    });
}

/// A session's will counts as a reference to a stored message of the same id
/// (the broker stores it when the will is published to queues); replacing the
/// session without the will, or deleting it, releases the reference.
#[test]
fn will_references_message() {
    each_store(|st| {
        let mut s = session("a");
        let mut will = msg(4);
        will.retain = true;
        will.expiry_at_unix_ms = Some(99);
        s.will = Some((will, 30));
        ok(
            st,
            vec![StoreOp::PutMessage(msg(4)), StoreOp::PutSession(s.clone())],
        );
        let snap = st.load().unwrap();
        assert_eq!(snap.sessions, vec![s]);
        assert_eq!(ids(&snap), vec![4]);
        ok(st, vec![StoreOp::PutSession(session("a"))]);
        assert!(st.load().unwrap().messages.is_empty());
    });
}

/// Deleting an absent outbound record is a no-op.
#[test]
fn delete_absent_outbound_is_noop() {
    each_store(|st| {
        ok(
            st,
            vec![StoreOp::DeleteOutbound {
                client_id: "a".into(),
                seq: 3,
            }],
        );
        assert_eq!(st.load().unwrap().outbound, vec![]);
    });
}

/// Message fields survive the store unchanged: properties, expiry, retain,
/// an empty payload, a non-ASCII topic.
#[test]
fn message_fields_round_trip() {
    each_store(|st| {
        let m = StoredMessage {
            id: u64::MAX - 1,
            topic: "capteurs/température/°C".into(),
            payload: Bytes::new(),
            qos: 2,
            retain: true,
            properties: Bytes::from_static(&[0x01, 0x01, 0x03, 0x00, 0x04, b't', b'e', b'x', b't']),
            expiry_at_unix_ms: Some(1_700_000_000_000),
        };
        ok(
            st,
            vec![
                StoreOp::PutMessage(m.clone()),
                StoreOp::PutRetained {
                    topic: "x".into(),
                    message_id: m.id,
                },
            ],
        );
        assert_eq!(st.load().unwrap().messages.get(&m.id), Some(&m));
    });
}

/// A batch referring to a message that is not stored is refused whole, handed
/// back unchanged, and leaves the store untouched.
#[test]
fn dangling_reference_refuses_whole_batch() {
    each_store(|st| {
        let batch = vec![
            StoreOp::PutSession(session("a")),
            StoreOp::PutOutbound(out("a", 0, 42)),
        ];
        let e = st.submit(batch.clone()).unwrap_err();
        assert!(
            matches!(e.error, StoreError::InvalidOp { index: 1, .. }),
            "{e}"
        );
        assert_eq!(e.ops, batch);
        let e = st
            .submit(vec![StoreOp::PutRetained {
                topic: "r".into(),
                message_id: 42,
            }])
            .unwrap_err();
        assert!(
            matches!(e.error, StoreError::InvalidOp { index: 0, .. }),
            "{e}"
        );
        assert_eq!(st.load().unwrap().sessions, vec![]);
    });
}

/// SetOutboundState needs the record to exist at that point of the batch
/// (not deleted before it, not removed by a DeleteSession before it).
#[test]
fn set_state_of_missing_outbound_is_refused() {
    each_store(|st| {
        let sent = OutboundState::Sent { packet_id: 1 };
        let set = || StoreOp::SetOutboundState {
            client_id: "a".into(),
            seq: 0,
            state: sent,
        };
        assert!(st.submit(vec![set()]).is_err());
        ok(
            st,
            vec![
                StoreOp::PutMessage(msg(1)),
                StoreOp::PutOutbound(out("a", 0, 1)),
                set(),
            ],
        );
        let e = st
            .submit(vec![
                StoreOp::DeleteOutbound {
                    client_id: "a".into(),
                    seq: 0,
                },
                set(),
            ])
            .unwrap_err();
        assert!(matches!(e.error, StoreError::InvalidOp { index: 1, .. }));
        let e = st
            .submit(vec![
                StoreOp::DeleteSession {
                    client_id: "a".into(),
                },
                set(),
            ])
            .unwrap_err();
        assert!(matches!(e.error, StoreError::InvalidOp { index: 1, .. }));
        let mut want = out("a", 0, 1);
        want.state = sent;
        assert_eq!(st.load().unwrap().outbound, vec![want]);
    });
}

/// Keys are bounded like MQTT strings (MQTT 5 §1.5.4: at most 65,535 bytes);
/// empty client ids, filters and retained topics are refused.
#[test]
fn oversized_or_empty_keys_are_refused() {
    each_store(|st| {
        let long = "x".repeat(65_536);
        let bad = [
            StoreOp::PutSession(session(&long)),
            StoreOp::PutSession(session("")),
            StoreOp::PutSubscription(sub("a", &long)),
            StoreOp::PutSubscription(sub("a", "")),
            StoreOp::DeleteRetained {
                topic: String::new(),
            },
            StoreOp::PutMessage(StoredMessage {
                topic: long.clone(),
                ..msg(1)
            }),
        ];
        for op in bad {
            let e = st.submit(vec![op]).unwrap_err();
            assert!(
                matches!(e.error, StoreError::InvalidOp { index: 0, .. }),
                "{e}"
            );
        }
        // The limit itself is fine.
        ok(st, vec![StoreOp::PutSession(session(&"y".repeat(65_535)))]);
        assert_eq!(st.load().unwrap().sessions.len(), 1);
    });
}

/// Message ids handed out are above every stored id, also after a reopen, and
/// a submitted id moves the counter past it.
#[test]
fn message_ids_are_fresh_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let st = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(st.load().unwrap().next_message_id, 0);
    let a = st.allocate_message_id();
    let b = st.allocate_message_id();
    assert!(b > a);
    ok(
        &st,
        vec![
            StoreOp::PutMessage(msg(1000)),
            StoreOp::PutRetained {
                topic: "r".into(),
                message_id: 1000,
            },
        ],
    );
    assert!(st.allocate_message_id() > 1000);
    drop(st);
    let st = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(st.load().unwrap().next_message_id, 1001);
    assert_eq!(st.allocate_message_id(), 1001);
}
