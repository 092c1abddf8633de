//! Clients, retained messages and sessions: `GET /api/v1/clients`,
//! `GET /api/v1/clients/{id}`, `POST /api/v1/clients/{id}/disconnect`,
//! `GET|DELETE /api/v1/retained`, `GET|DELETE /api/v1/sessions/{id}`.

use std::sync::Arc;
use std::time::Instant;

use mqtt_proto::{RetainHandling, topic};
use serde_json::{Value, json};
use ws_proto::http::RequestHead;

use super::{Answer, ApiError, err, json_body, percent_decode, query_param};
use crate::broker::{Broker, Session};
use crate::hooks::event::{client_json, message_json};

/// Most retained messages one listing returns (`limit` lowers it).
const MAX_LISTED: usize = 10_000;

fn subscriptions(session: &Session) -> Vec<Value> {
    let st = session.lock();
    let mut subs: Vec<Value> = st
        .subscriptions
        .iter()
        .map(|(filter, r)| {
            json!({
                "filter": filter.as_str(),
                "qos": u8::from(r.options.qos),
                "no_local": r.options.no_local,
                "retain_as_published": r.options.retain_as_published,
                "retain_handling": match r.options.retain_handling {
                    RetainHandling::SendAtSubscribe => 0,
                    RetainHandling::SendIfNew => 1,
                    RetainHandling::DoNotSend => 2,
                },
                "subscription_id": r.id,
            })
        })
        .collect();
    subs.sort_by(|a, b| a["filter"].as_str().cmp(&b["filter"].as_str()));
    subs
}

fn client(entry: &crate::hooks::ClientEntry) -> Value {
    let mut v = client_json(entry);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "subscriptions".into(),
            Value::Array(subscriptions(&entry.session)),
        );
    }
    v
}

fn id_of(raw: &str) -> Result<String, ApiError> {
    let id = percent_decode(raw, false)?;
    if id.is_empty() {
        return Err(err(400, "bad_request", "empty client id"));
    }
    Ok(id)
}

pub(super) fn list_clients(broker: &Arc<Broker>) -> Answer {
    let clients: Vec<Value> = broker
        .hooks
        .clients
        .list()
        .iter()
        .map(|e| client(e))
        .collect();
    Ok((200, Some(json!({"clients": clients}))))
}

pub(super) fn get_client(broker: &Arc<Broker>, raw: &str) -> Answer {
    let id = id_of(raw)?;
    match broker.hooks.clients.get(&id) {
        Some(e) => Ok((200, Some(client(&e)))),
        None => Err(err(404, "not_found", format!("no connected client {id:?}"))),
    }
}

pub(super) fn disconnect_client(broker: &Arc<Broker>, raw: &str, body: &[u8]) -> Answer {
    let id = id_of(raw)?;
    let req = json_body(body)?;
    let reason = match req.get("reason") {
        None | Some(Value::Null) => "disconnected through the HTTP API".to_string(),
        Some(Value::String(s)) if s.len() <= 256 => s.clone(),
        Some(_) => {
            return Err(err(
                400,
                "bad_json",
                "\"reason\" is a string of at most 256 bytes",
            ));
        }
    };
    if !(req.is_null() || req.is_object()) {
        return Err(err(
            400,
            "bad_json",
            "the body is {\"reason\": \"...\"} or empty",
        ));
    }
    if broker.hooks.clients.disconnect(&id, &reason) {
        tracing::info!(
            client_id = id,
            reason,
            "client disconnected through the HTTP API"
        );
        Ok((
            202,
            Some(json!({"client_id": id, "disconnecting": true, "reason": reason})),
        ))
    } else {
        Err(err(404, "not_found", format!("no connected client {id:?}")))
    }
}

pub(super) fn list_retained(broker: &Arc<Broker>, head: &RequestHead) -> Answer {
    let filter = query_param(head, "filter")?.unwrap_or_else(|| "#".to_string());
    topic::validate_filter(&filter).map_err(|e| {
        err(
            400,
            "invalid_topic",
            format!(
                "filter: {} [{}]",
                e.message(),
                e.rule(mqtt_proto::ProtocolVersion::V5)
            ),
        )
    })?;
    let limit = match query_param(head, "limit")? {
        None => MAX_LISTED,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_LISTED).contains(l))
            .ok_or_else(|| err(400, "bad_request", format!("limit is 1..={MAX_LISTED}")))?,
    };
    let now = Instant::now();
    let mut found: Vec<_> = broker
        .retained_matching(&filter)
        .into_iter()
        .filter(|m| !m.is_expired(now))
        .collect();
    found.sort_by(|a, b| a.topic.as_str().cmp(b.topic.as_str()));
    let truncated = found.len() > limit;
    let retained: Vec<Value> = found
        .iter()
        .take(limit)
        .map(|m| {
            let mut v = message_json(m);
            if let Some(o) = v.as_object_mut() {
                o.remove("event");
            }
            v
        })
        .collect();
    Ok((
        200,
        Some(json!({"retained": retained, "truncated": truncated})),
    ))
}

pub(super) fn delete_retained(broker: &Arc<Broker>, head: &RequestHead) -> Answer {
    let name = query_param(head, "topic")?
        .ok_or_else(|| err(400, "bad_request", "the topic query parameter is required"))?;
    topic::validate_name(&name).map_err(|e| {
        err(
            400,
            "invalid_topic",
            format!(
                "topic: {} [{}]",
                e.message(),
                e.rule(mqtt_proto::ProtocolVersion::V5)
            ),
        )
    })?;
    if broker.delete_retained(&name) {
        Ok((204, None))
    } else {
        Err(err(
            404,
            "not_found",
            format!("no retained message on {name:?}"),
        ))
    }
}

pub(super) fn get_session(broker: &Arc<Broker>, raw: &str) -> Answer {
    let id = id_of(raw)?;
    let Some(session) = broker.session(&id) else {
        return Err(err(404, "not_found", format!("no session {id:?}")));
    };
    let subs = subscriptions(&session);
    let st = session.lock();
    let body = json!({
        "client_id": id,
        "online": st.link.is_some(),
        "protocol": crate::metrics::VERSION_LABELS
            .get(crate::metrics::version_index(st.version))
            .copied()
            .unwrap_or("?"),
        "expiry_interval": st.expiry_interval,
        "persistent": st.persistent,
        "queued": st.outbox.queued(),
        "inflight": st.outbox.inflight_len(),
        "subscriptions": subs,
    });
    Ok((200, Some(body)))
}

pub(super) fn delete_session(broker: &Arc<Broker>, raw: &str) -> Answer {
    let id = id_of(raw)?;
    match broker.remove_session(&id, Instant::now()) {
        Some(true) => Ok((204, None)),
        Some(false) => Err(err(
            409,
            "client_connected",
            format!("a client is connected to session {id:?}: disconnect it first"),
        )),
        None => Err(err(404, "not_found", format!("no session {id:?}"))),
    }
}
