//! Reading every table back into a [`Snapshot`] (start-up recovery).

use super::codec::{self, Table};
use super::engine::Engine;
use super::error::StoreError;
use super::records::Snapshot;

/// Reads and decodes every record. Rows come in key order, so each session's
/// outbound records come in `seq` order (keys are `lp(client id) + seq BE`).
pub(crate) fn read_snapshot(engine: &dyn Engine) -> Result<Snapshot, StoreError> {
    let mut s = Snapshot::default();
    engine.scan(Table::Sessions, &mut |k, v| {
        s.sessions.push(codec::decode_session(k, v)?);
        Ok(())
    })?;
    engine.scan(Table::Subscriptions, &mut |k, v| {
        s.subscriptions.push(codec::decode_subscription(k, v)?);
        Ok(())
    })?;
    engine.scan(Table::Messages, &mut |k, v| {
        let m = codec::decode_message(v)?;
        if codec::decode_message_key(k)? != m.id {
            return Err(StoreError::Corrupt {
                table: Table::Messages.name(),
                reason: format!("message {} stored under another id", m.id),
            });
        }
        s.messages.insert(m.id, m);
        Ok(())
    })?;
    engine.scan(Table::Outbound, &mut |k, v| {
        s.outbound.push(codec::decode_outbound(k, v)?);
        Ok(())
    })?;
    engine.scan(Table::Incoming, &mut |k, _| {
        s.incoming_qos2.push(codec::decode_incoming(k)?);
        Ok(())
    })?;
    engine.scan(Table::Retained, &mut |k, v| {
        s.retained.push(codec::decode_retained(k, v)?);
        Ok(())
    })?;
    let max_id = s
        .messages
        .keys()
        .copied()
        .chain(s.outbound.iter().map(|o| o.message_id))
        .chain(s.retained.iter().map(|(_, id)| *id))
        .chain(
            s.sessions
                .iter()
                .filter_map(|x| x.will.as_ref().map(|(m, _)| m.id)),
        )
        .max();
    s.next_message_id = max_id.map_or(0, |m| m.saturating_add(1));
    Ok(s)
}
