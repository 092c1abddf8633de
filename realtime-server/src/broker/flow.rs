//! What a connection asks of its session: the next delivery to send, the
//! acknowledgements it receives, and the publishes it makes — each with its
//! durable record when the session is persistent.

use std::sync::Arc;
use std::time::Instant;

use mqtt_proto::{PacketId, QoS};

use super::{AckResult, Broker, Commit, Delivery, Message, Session};
use crate::store::{OutboundState, StoreOp};

/// The next thing a connection should send from its session.
#[derive(Debug)]
pub enum NextDelivery {
    /// The connection no longer owns the session (taken over or ended).
    Detached,
    /// Nothing can be sent now (queue empty, or the window is full).
    Empty,
    /// This delivery, with its packet identifier if QoS > 0 (now in flight).
    Item(Delivery, Option<PacketId>),
}

/// The outcome of a client's PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishResult {
    /// How many sessions it was queued for.
    pub matched: usize,
    /// A QoS 2 PUBLISH whose packet id awaits PUBREL already: not routed again
    /// (MQTT-4.3.3-10), only acknowledged.
    pub duplicate: bool,
    /// When it may be acknowledged.
    pub commit: Commit,
    /// A subscriber's queue is past its high-water mark: the publisher should
    /// pause reading until woken or for at most [`super::pushback::GRACE`].
    pub congested: bool,
}

impl Broker {
    /// Takes the next delivery for connection `conn_id` of `session`, putting it
    /// in flight if its QoS > 0 and fewer than `window` are (MQTT-3.3.4-9).
    pub fn next_delivery(
        &self,
        session: &Session,
        conn_id: u64,
        window: usize,
        now: Instant,
    ) -> NextDelivery {
        let mut ops = Vec::new();
        let next = {
            let mut st = session.lock();
            if !st.is_attached(conn_id) {
                return NextDelivery::Detached;
            }
            let persistent = st.persistent;
            let client_id = &session.client_id;
            let metrics = &self.metrics;
            let popped = st.outbox.pop_ready(now, window, |cause, d| {
                metrics.drop_of(cause).inc();
                if persistent && d.seq != 0 {
                    ops.push(StoreOp::DeleteOutbound {
                        client_id: client_id.to_string(),
                        seq: d.seq,
                    });
                }
            });
            let queued = st.outbox.queued();
            st.congestion.on_pop(queued, self.config.queue.max_messages);
            match popped {
                None => NextDelivery::Empty,
                Some(d) if d.qos == QoS::AtMostOnce => NextDelivery::Item(d, None),
                Some(d) => {
                    let id = st.outbox.start(d.clone());
                    if persistent && d.seq != 0 {
                        let state = OutboundState::Sent {
                            packet_id: id.get(),
                        };
                        ops.push(StoreOp::SetOutboundState {
                            client_id: client_id.to_string(),
                            seq: d.seq,
                            state,
                        });
                    }
                    NextDelivery::Item(d, Some(id))
                }
            }
        };
        let _ = self.commit(ops);
        next
    }

    fn after_ack(&self, session: &Session, result: AckResult, packet_id: PacketId) -> AckResult {
        let op = match result {
            AckResult::Done(seq) if seq != 0 => Some(StoreOp::DeleteOutbound {
                client_id: session.client_id.to_string(),
                seq,
            }),
            AckResult::Released(seq) if seq != 0 => Some(StoreOp::SetOutboundState {
                client_id: session.client_id.to_string(),
                seq,
                state: OutboundState::Released {
                    packet_id: packet_id.get(),
                },
            }),
            _ => None,
        };
        if let Some(op) = op {
            let _ = self.commit(vec![op]);
        }
        result
    }

    /// PUBACK from the client.
    pub fn puback(&self, session: &Session, packet_id: PacketId) -> AckResult {
        let result = session.lock().outbox.puback(packet_id);
        self.after_ack(session, result, packet_id)
    }

    /// PUBREC from the client (`success`: reason code below 0x80).
    pub fn pubrec(&self, session: &Session, packet_id: PacketId, success: bool) -> AckResult {
        let result = session.lock().outbox.pubrec(packet_id, success);
        self.after_ack(session, result, packet_id)
    }

    /// PUBCOMP from the client.
    pub fn pubcomp(&self, session: &Session, packet_id: PacketId) -> AckResult {
        let result = session.lock().outbox.pubcomp(packet_id);
        self.after_ack(session, result, packet_id)
    }

    /// Forgets a message put in flight that cannot be sent (too large for the
    /// client, MQTT-3.1.2-25).
    pub fn abandon(&self, session: &Session, packet_id: PacketId) {
        let seq = session.lock().outbox.abandon(packet_id);
        if let Some(seq) = seq.filter(|s| *s != 0) {
            let _ = self.commit(vec![StoreOp::DeleteOutbound {
                client_id: session.client_id.to_string(),
                seq,
            }]);
        }
    }

    /// A PUBLISH from a client of `session`. For QoS 2 (`qos2_id`), the packet id
    /// joins the exactly-once state in the same commit as the routed message, and
    /// a PUBLISH whose id is already there is not routed again (MQTT-4.3.3-10).
    /// `waker` wakes the publishing connection: given, a subscriber's full queue
    /// can hold it back ([`super::pushback`]).
    pub fn publish_from(
        &self,
        session: &Session,
        message: Message,
        qos2_id: Option<PacketId>,
        waker: Option<&Arc<crate::conn::ConnWake>>,
        now: Instant,
    ) -> PublishResult {
        let mut ops = Vec::new();
        if let Some(id) = qos2_id {
            let mut st = session.lock();
            if !st.incoming_qos2.insert(id.get()) {
                return PublishResult {
                    matched: 0,
                    duplicate: true,
                    commit: Commit::Done,
                    congested: false,
                };
            }
            if st.persistent {
                ops.push(StoreOp::PutIncomingQos2 {
                    client_id: session.client_id.to_string(),
                    packet_id: id.get(),
                });
            }
        }
        let mut refs = self.message_refs(now);
        refs.publisher_wake = waker;
        let matched = self.publish_inner(Arc::new(message), now, &mut refs, &mut ops);
        PublishResult {
            matched,
            duplicate: false,
            commit: self.commit(ops),
            congested: refs.congested,
        }
    }

    /// PUBREL from the client: the QoS 2 exactly-once state of `packet_id` ends;
    /// returns whether it existed.
    pub fn release_incoming(&self, session: &Session, packet_id: PacketId) -> bool {
        let (known, persistent) = {
            let mut st = session.lock();
            (st.incoming_qos2.remove(&packet_id.get()), st.persistent)
        };
        if known && persistent {
            let op = StoreOp::DeleteIncomingQos2 {
                client_id: session.client_id.to_string(),
                packet_id: packet_id.get(),
            };
            let _ = self.commit(vec![op]);
        }
        known
    }

    /// QoS 2 PUBLISH packets of this session awaiting PUBREL.
    pub fn incoming_qos2_pending(&self, session: &Session) -> usize {
        session.lock().incoming_qos2.len()
    }
}
