//! Keys and values of the store's tables.
//!
//! Every value starts with a format version byte ([`FORMAT`]) so that a later
//! release can migrate; decoding checks every length against the bytes present
//! and returns [`StoreError::Corrupt`] instead of panicking on a damaged record.
//!
//! | table | key | value |
//! |---|---|---|
//! | sessions | client id | expiry u32, protocol u8, flags, disconnected-at u64?, will (delay u32, message)? |
//! | subscriptions | lp(client id) + filter | options u8, flags, subscription id u32? |
//! | messages | id u64 BE | message (see [`encode_message`]) |
//! | outbound | lp(client id) + seq u64 BE | message id u64, qos, retain, ids, state (last 3 bytes) |
//! | incoming | lp(client id) + packet id u16 BE | empty |
//! | retained | topic | message id u64 |
//!
//! `lp(s)` is a u16 big-endian length followed by the bytes, so that one
//! session's keys form one ordered, unambiguous range.

use super::error::StoreError;
use super::records::{
    OutboundRecord, OutboundState, SessionRecord, StoredMessage, SubscriptionRecord,
};
use bytes::Bytes;

/// Format version written as the first byte of every value.
pub(crate) const FORMAT: u8 = 1;

/// The store's tables. Their names are the engine's table names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Table {
    Sessions,
    Subscriptions,
    Messages,
    Outbound,
    Incoming,
    Retained,
}

impl Table {
    /// Every table, in load order.
    pub(crate) const ALL: [Table; 6] = [
        Table::Sessions,
        Table::Subscriptions,
        Table::Messages,
        Table::Outbound,
        Table::Incoming,
        Table::Retained,
    ];

    /// The engine's name for the table.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Sessions => "sessions",
            Table::Subscriptions => "subscriptions",
            Table::Messages => "messages",
            Table::Outbound => "outbound",
            Table::Incoming => "incoming_qos2",
            Table::Retained => "retained",
        }
    }
}

/// One key-level mutation; a commit applies a slice of them in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvOp {
    pub(crate) table: Table,
    pub(crate) key: Vec<u8>,
    /// `None` deletes the key.
    pub(crate) value: Option<Vec<u8>>,
}

impl KvOp {
    /// Bytes this op holds in memory (for the pending-queue bound).
    pub(crate) fn weight(&self) -> usize {
        // The fixed part approximates the struct and allocation overhead.
        48 + self.key.len() + self.value.as_ref().map_or(0, Vec::len)
    }
}

// ------------------------------------------------------------------ keys

/// `lp(client_id)`: u16 BE length + bytes. Lengths were validated (<= u16::MAX).
fn client_prefix(client_id: &str, extra: usize) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + client_id.len() + extra);
    let len = u16::try_from(client_id.len()).unwrap_or(u16::MAX);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(client_id.as_bytes());
    k
}

pub(crate) fn session_key(client_id: &str) -> Vec<u8> {
    client_id.as_bytes().to_vec()
}

pub(crate) fn subscription_key(client_id: &str, filter: &str) -> Vec<u8> {
    let mut k = client_prefix(client_id, filter.len());
    k.extend_from_slice(filter.as_bytes());
    k
}

pub(crate) fn message_key(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

pub(crate) fn outbound_key(client_id: &str, seq: u64) -> Vec<u8> {
    let mut k = client_prefix(client_id, 8);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub(crate) fn incoming_key(client_id: &str, packet_id: u16) -> Vec<u8> {
    let mut k = client_prefix(client_id, 2);
    k.extend_from_slice(&packet_id.to_be_bytes());
    k
}

pub(crate) fn retained_key(topic: &str) -> Vec<u8> {
    topic.as_bytes().to_vec()
}

// ------------------------------------------------------------------ reader

/// Bounds-checked reader over one stored record.
struct Reader<'a> {
    buf: &'a [u8],
    table: Table,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], table: Table) -> Self {
        Self { buf, table }
    }

    fn corrupt(&self, what: &str) -> StoreError {
        StoreError::Corrupt {
            table: self.table.name(),
            reason: what.to_owned(),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], StoreError> {
        if self.buf.len() < n {
            return Err(self.corrupt(what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], StoreError> {
        let b = self.take(N, what)?;
        <[u8; N]>::try_from(b).map_err(|_| self.corrupt(what))
    }

    fn u8(&mut self, what: &str) -> Result<u8, StoreError> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }
    fn u16(&mut self, what: &str) -> Result<u16, StoreError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &str) -> Result<u32, StoreError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, StoreError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    fn string(&mut self, len: usize, what: &str) -> Result<String, StoreError> {
        let b = self.take(len, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.corrupt(what))
    }

    /// `lp(client id)` at the start of a key.
    fn client_id(&mut self) -> Result<String, StoreError> {
        let len = usize::from(self.u16("client id length")?);
        self.string(len, "client id")
    }

    fn version(&mut self) -> Result<(), StoreError> {
        match self.u8("format version")? {
            FORMAT => Ok(()),
            _ => Err(self.corrupt("unknown format version")),
        }
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    fn end(&self, what: &str) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.corrupt(what))
        }
    }
}

fn u32_len(n: usize) -> [u8; 4] {
    // Lengths stored are bounded by validation (topics <= 65535 B) or by memory
    // (properties); saturate rather than wrap if ever larger.
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}

// ------------------------------------------------------------------ messages

const MSG_RETAIN: u8 = 1;
const MSG_EXPIRY: u8 = 2;

/// `[FORMAT][id u64][qos u8][flags u8][expiry u64 if flagged]
/// [topic len u32][topic][properties len u32][properties][payload to the end]`.
pub(crate) fn encode_message(m: &StoredMessage) -> Vec<u8> {
    let mut v = Vec::with_capacity(28 + m.topic.len() + m.properties.len() + m.payload.len());
    encode_message_into(&mut v, m);
    v
}

fn encode_message_into(v: &mut Vec<u8>, m: &StoredMessage) {
    v.push(FORMAT);
    v.extend_from_slice(&m.id.to_be_bytes());
    v.push(m.qos);
    let flags = if m.retain { MSG_RETAIN } else { 0 }
        | if m.expiry_at_unix_ms.is_some() {
            MSG_EXPIRY
        } else {
            0
        };
    v.push(flags);
    if let Some(at) = m.expiry_at_unix_ms {
        v.extend_from_slice(&at.to_be_bytes());
    }
    v.extend_from_slice(&u32_len(m.topic.len()));
    v.extend_from_slice(m.topic.as_bytes());
    v.extend_from_slice(&u32_len(m.properties.len()));
    v.extend_from_slice(&m.properties);
    v.extend_from_slice(&m.payload);
}

pub(crate) fn decode_message(buf: &[u8]) -> Result<StoredMessage, StoreError> {
    decode_message_from(&mut Reader::new(buf, Table::Messages))
}

fn decode_message_from(r: &mut Reader<'_>) -> Result<StoredMessage, StoreError> {
    r.version()?;
    let id = r.u64("message id")?;
    let qos = r.u8("qos")?;
    let flags = r.u8("flags")?;
    let expiry_at_unix_ms = if flags & MSG_EXPIRY != 0 {
        Some(r.u64("expiry")?)
    } else {
        None
    };
    let topic_len = r.u32("topic length")? as usize;
    let topic = r.string(topic_len, "topic")?;
    let props_len = r.u32("properties length")? as usize;
    let properties = Bytes::copy_from_slice(r.take(props_len, "properties")?);
    let payload = Bytes::copy_from_slice(r.rest());
    Ok(StoredMessage {
        id,
        topic,
        payload,
        qos,
        retain: flags & MSG_RETAIN != 0,
        properties,
        expiry_at_unix_ms,
    })
}

// ------------------------------------------------------------------ sessions

const SESSION_DISCONNECTED: u8 = 1;
const SESSION_WILL: u8 = 2;

/// `[FORMAT][expiry u32][protocol u8][flags u8][disconnected-at u64?]
/// [will delay u32, will message to the end?]`.
pub(crate) fn encode_session(s: &SessionRecord) -> Vec<u8> {
    let mut v = Vec::with_capacity(24);
    v.push(FORMAT);
    v.extend_from_slice(&s.expiry_interval_secs.to_be_bytes());
    v.push(s.protocol_version);
    let flags = if s.disconnected_at_unix_ms.is_some() {
        SESSION_DISCONNECTED
    } else {
        0
    } | if s.will.is_some() { SESSION_WILL } else { 0 };
    v.push(flags);
    if let Some(at) = s.disconnected_at_unix_ms {
        v.extend_from_slice(&at.to_be_bytes());
    }
    if let Some((msg, delay)) = &s.will {
        v.extend_from_slice(&delay.to_be_bytes());
        encode_message_into(&mut v, msg);
    }
    v
}

pub(crate) fn decode_session(key: &[u8], value: &[u8]) -> Result<SessionRecord, StoreError> {
    let client_id = Reader::new(key, Table::Sessions).string(key.len(), "client id")?;
    let mut r = Reader::new(value, Table::Sessions);
    r.version()?;
    let expiry_interval_secs = r.u32("session expiry")?;
    let protocol_version = r.u8("protocol version")?;
    let flags = r.u8("flags")?;
    let disconnected_at_unix_ms = if flags & SESSION_DISCONNECTED != 0 {
        Some(r.u64("disconnected at")?)
    } else {
        None
    };
    let will = if flags & SESSION_WILL != 0 {
        let delay = r.u32("will delay")?;
        Some((decode_message_from(&mut r)?, delay))
    } else {
        r.end("trailing bytes")?;
        None
    };
    Ok(SessionRecord {
        client_id,
        expiry_interval_secs,
        protocol_version,
        disconnected_at_unix_ms,
        will,
    })
}

// ------------------------------------------------------------------ subscriptions

/// `[FORMAT][options u8][has id u8][subscription id u32?]`.
pub(crate) fn encode_subscription(s: &SubscriptionRecord) -> Vec<u8> {
    let mut v = Vec::with_capacity(7);
    v.push(FORMAT);
    v.push(s.options);
    match s.subscription_id {
        Some(id) => {
            v.push(1);
            v.extend_from_slice(&id.to_be_bytes());
        }
        None => v.push(0),
    }
    v
}

pub(crate) fn decode_subscription(
    key: &[u8],
    value: &[u8],
) -> Result<SubscriptionRecord, StoreError> {
    let mut k = Reader::new(key, Table::Subscriptions);
    let client_id = k.client_id()?;
    let rest = k.rest();
    let filter = Reader::new(rest, Table::Subscriptions).string(rest.len(), "filter")?;
    let mut r = Reader::new(value, Table::Subscriptions);
    r.version()?;
    let options = r.u8("options")?;
    let subscription_id = match r.u8("subscription id flag")? {
        0 => None,
        _ => Some(r.u32("subscription id")?),
    };
    r.end("trailing bytes")?;
    Ok(SubscriptionRecord {
        client_id,
        filter,
        options,
        subscription_id,
    })
}

// ------------------------------------------------------------------ outbound

const STATE_QUEUED: u8 = 0;
const STATE_SENT: u8 = 1;
const STATE_RELEASED: u8 = 2;

/// The last three bytes of an outbound value: state tag and packet id.
pub(crate) fn encode_state(state: OutboundState) -> [u8; 3] {
    let (tag, pid) = match state {
        OutboundState::Queued => (STATE_QUEUED, 0u16),
        OutboundState::Sent { packet_id } => (STATE_SENT, packet_id),
        OutboundState::Released { packet_id } => (STATE_RELEASED, packet_id),
    };
    let [a, b] = pid.to_be_bytes();
    [tag, a, b]
}

/// `[FORMAT][message id u64][qos u8][retain u8][n u32][subscription id u32 * n]
/// [state u8][packet id u16]` — the state is last so that a state change
/// rewrites the value by patching its tail ([`set_outbound_state`]).
pub(crate) fn encode_outbound(o: &OutboundRecord) -> Vec<u8> {
    let mut v = Vec::with_capacity(18 + 4 * o.subscription_ids.len() + 3);
    v.push(FORMAT);
    v.extend_from_slice(&o.message_id.to_be_bytes());
    v.push(o.qos);
    v.push(u8::from(o.retain));
    v.extend_from_slice(&u32_len(o.subscription_ids.len()));
    for id in &o.subscription_ids {
        v.extend_from_slice(&id.to_be_bytes());
    }
    v.extend_from_slice(&encode_state(o.state));
    v
}

/// Rewrites the state at the end of an encoded outbound value.
pub(crate) fn set_outbound_state(value: &mut [u8], state: OutboundState) {
    let n = value.len();
    if let Some(tail) = value.get_mut(n.saturating_sub(3)..)
        && tail.len() == 3
    {
        tail.copy_from_slice(&encode_state(state));
    }
}

pub(crate) fn decode_outbound(key: &[u8], value: &[u8]) -> Result<OutboundRecord, StoreError> {
    let mut k = Reader::new(key, Table::Outbound);
    let client_id = k.client_id()?;
    let seq = k.u64("seq")?;
    k.end("key trailing bytes")?;
    let mut r = Reader::new(value, Table::Outbound);
    r.version()?;
    let message_id = r.u64("message id")?;
    let qos = r.u8("qos")?;
    let retain = r.u8("retain")? != 0;
    let n = r.u32("subscription id count")? as usize;
    // Bound the allocation by what the value can hold.
    let mut subscription_ids = Vec::with_capacity(n.min(value.len() / 4));
    for _ in 0..n {
        subscription_ids.push(r.u32("subscription id")?);
    }
    let tag = r.u8("state")?;
    let packet_id = r.u16("packet id")?;
    r.end("trailing bytes")?;
    let state = match tag {
        STATE_QUEUED => OutboundState::Queued,
        STATE_SENT => OutboundState::Sent { packet_id },
        STATE_RELEASED => OutboundState::Released { packet_id },
        _ => return Err(r.corrupt("unknown outbound state")),
    };
    Ok(OutboundRecord {
        client_id,
        seq,
        message_id,
        qos,
        retain,
        subscription_ids,
        state,
    })
}

// ------------------------------------------------------------------ small tables

pub(crate) fn decode_incoming(key: &[u8]) -> Result<(String, u16), StoreError> {
    let mut k = Reader::new(key, Table::Incoming);
    let client_id = k.client_id()?;
    let packet_id = k.u16("packet id")?;
    k.end("key trailing bytes")?;
    Ok((client_id, packet_id))
}

pub(crate) fn encode_retained(message_id: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(9);
    v.push(FORMAT);
    v.extend_from_slice(&message_id.to_be_bytes());
    v
}

pub(crate) fn decode_retained(key: &[u8], value: &[u8]) -> Result<(String, u64), StoreError> {
    let topic = Reader::new(key, Table::Retained).string(key.len(), "topic")?;
    let mut r = Reader::new(value, Table::Retained);
    r.version()?;
    let id = r.u64("message id")?;
    r.end("trailing bytes")?;
    Ok((topic, id))
}

pub(crate) fn decode_message_key(key: &[u8]) -> Result<u64, StoreError> {
    let mut k = Reader::new(key, Table::Messages);
    let id = k.u64("message id key")?;
    k.end("key trailing bytes")?;
    Ok(id)
}
