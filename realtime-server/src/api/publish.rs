//! `POST /api/v1/publish` and `POST /api/v1/publish/batch`: messages from a
//! function, through the same checks as an MQTT PUBLISH (topic rules and
//! limits, Maximum QoS, retain availability, packet size, the ACL as the
//! API's user) and the same bus. A batch is checked whole before anything is
//! published: one bad message refuses the batch and changes nothing.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use mqtt_proto::{ProtocolVersion, PublishProperties, QoS, UserProperty, Utf8Bytes, topic};
use serde_json::{Map, Value, json};

use super::{Answer, ApiConfig, ApiError, err, json_body};
use crate::auth::{Access, Principal};
use crate::broker::{Broker, Message};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `Ok(bytes)` or a 400 naming `field`.
fn mqtt_string(value: &Value, field: &str) -> Result<Utf8Bytes, ApiError> {
    let s = value
        .as_str()
        .ok_or_else(|| err(400, "bad_json", format!("\"{field}\" must be a string")))?;
    mqtt_proto::validate_mqtt_str(s.as_bytes()).map_err(|_| {
        err(
            400,
            "bad_json",
            format!("\"{field}\" contains U+0000 [MQTT-1.5.4-2]"),
        )
    })?;
    if s.len() > usize::from(u16::MAX) {
        return Err(err(
            400,
            "bad_json",
            format!("\"{field}\" is longer than 65535 bytes [MQTT-1.5.4]"),
        ));
    }
    Ok(Utf8Bytes::from(s.to_string()))
}

fn check_topic(name: &str, broker: &Broker, field: &str) -> Result<(), ApiError> {
    topic::validate_name(name).map_err(|e| {
        err(
            400,
            "invalid_topic",
            format!("{field}: {} [{}]", e.message(), e.rule(ProtocolVersion::V5)),
        )
    })?;
    let c = broker.config();
    if !c.topic_within_limits(name) {
        return Err(err(
            400,
            "invalid_topic",
            format!(
                "{field}: longer than {} bytes or more than {} levels",
                c.max_topic_length, c.max_topic_levels
            ),
        ));
    }
    Ok(())
}

const FIELDS: [&str; 6] = [
    "topic",
    "payload",
    "encoding",
    "qos",
    "retain",
    "properties",
];
const PROPERTIES: [&str; 6] = [
    "content_type",
    "response_topic",
    "correlation_data",
    "user_properties",
    "message_expiry",
    "payload_format_utf8",
];

fn properties(p: &Map<String, Value>, broker: &Broker) -> Result<PublishProperties, ApiError> {
    if let Some(k) = p.keys().find(|k| !PROPERTIES.contains(&k.as_str())) {
        return Err(err(400, "bad_json", format!("unknown property {k:?}")));
    }
    let mut out = PublishProperties::default();
    if let Some(v) = p.get("content_type") {
        out.content_type = Some(mqtt_string(v, "content_type")?);
    }
    if let Some(v) = p.get("response_topic") {
        let rt = mqtt_string(v, "response_topic")?;
        // MQTT-3.3.2-14: a Topic Name, no wildcards.
        check_topic(&rt, broker, "response_topic")?;
        out.response_topic = Some(rt);
    }
    if let Some(v) = p.get("correlation_data") {
        let text = v
            .as_str()
            .ok_or_else(|| err(400, "bad_json", "\"correlation_data\" must be base64 text"))?;
        let data = B64.decode(text).map_err(|e| {
            err(
                400,
                "bad_json",
                format!("correlation_data is not base64: {e}"),
            )
        })?;
        out.correlation_data = Some(Bytes::from(data));
    }
    if let Some(v) = p.get("message_expiry") {
        let secs = v
            .as_u64()
            .and_then(|s| u32::try_from(s).ok())
            .ok_or_else(|| err(400, "bad_json", "\"message_expiry\" must be 0..=4294967295"))?;
        out.message_expiry_interval = Some(secs);
    }
    if let Some(v) = p.get("payload_format_utf8") {
        out.payload_format_indicator = Some(v.as_bool().ok_or_else(|| {
            err(
                400,
                "bad_json",
                "\"payload_format_utf8\" must be true or false",
            )
        })?);
    }
    match p.get("user_properties") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let name = mqtt_string(&Value::String(k.clone()), "user_properties")?;
                out.user_properties
                    .push(UserProperty::new(name, mqtt_string(v, "user_properties")?));
            }
        }
        Some(Value::Array(pairs)) => {
            for pair in pairs {
                match pair.as_array().map(Vec::as_slice) {
                    Some([k, v]) => out.user_properties.push(UserProperty::new(
                        mqtt_string(k, "user_properties")?,
                        mqtt_string(v, "user_properties")?,
                    )),
                    _ => {
                        return Err(err(
                            400,
                            "bad_json",
                            "user_properties: an object of strings, or an array of [name, value]",
                        ));
                    }
                }
            }
        }
        Some(_) => {
            return Err(err(
                400,
                "bad_json",
                "user_properties: an object of strings, or an array of [name, value]",
            ));
        }
    }
    Ok(out)
}

/// Checks one message of a request; returns it ready to publish.
fn message(
    req: &Value,
    broker: &Broker,
    principal: &Principal,
    now: Instant,
) -> Result<Message, ApiError> {
    let obj = req
        .as_object()
        .ok_or_else(|| err(400, "bad_json", "a message is a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(err(400, "bad_json", format!("unknown field {k:?}")));
    }
    let name = obj
        .get("topic")
        .and_then(Value::as_str)
        .ok_or_else(|| err(400, "bad_json", "\"topic\" (a string) is required"))?;
    check_topic(name, broker, "topic")?;
    let text = match obj.get("payload") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(err(400, "bad_json", "\"payload\" must be a string")),
    };
    let payload = match obj.get("encoding").map(|v| v.as_str()) {
        None | Some(Some("text")) => Bytes::copy_from_slice(text.as_bytes()),
        Some(Some("base64")) => Bytes::from(
            B64.decode(text)
                .map_err(|e| err(400, "bad_json", format!("payload is not base64: {e}")))?,
        ),
        _ => {
            return Err(err(
                400,
                "bad_json",
                "\"encoding\" must be \"text\" or \"base64\"",
            ));
        }
    };
    let config = broker.config();
    if payload.len() > config.max_packet_size as usize {
        return Err(err(
            413,
            "too_large",
            format!(
                "payload of {} bytes exceeds broker.max_packet_size ({})",
                payload.len(),
                config.max_packet_size
            ),
        ));
    }
    let qos = match obj.get("qos") {
        None => QoS::AtMostOnce,
        Some(v) => v
            .as_u64()
            .and_then(|q| u8::try_from(q).ok())
            .and_then(|q| QoS::try_from(q).ok())
            .ok_or_else(|| err(400, "bad_json", "\"qos\" must be 0, 1 or 2"))?,
    };
    if qos > config.max_qos {
        return Err(err(
            400,
            "qos_not_supported",
            format!(
                "QoS {} exceeds broker.max_qos ({}) [MQTT-3.2.2-11]",
                u8::from(qos),
                u8::from(config.max_qos)
            ),
        ));
    }
    let retain = match obj.get("retain") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| err(400, "bad_json", "\"retain\" must be true or false"))?,
    };
    if retain && !config.retain_available {
        return Err(err(
            400,
            "retain_not_supported",
            "retain is not available [MQTT-3.2.2-14]",
        ));
    }
    let props = match obj.get("properties") {
        None | Some(Value::Null) => PublishProperties::default(),
        Some(Value::Object(p)) => properties(p, broker)?,
        Some(_) => return Err(err(400, "bad_json", "\"properties\" must be an object")),
    };
    // `%c` of the HTTP API is `api`.
    if !broker.auth.allows(principal, "api", Access::Write, name) {
        return Err(err(
            403,
            "not_authorized",
            format!(
                "the ACL does not allow user {:?} to publish on {name:?}",
                principal.user_label()
            ),
        ));
    }
    Ok(Message::new(
        Utf8Bytes::from(name.to_string()),
        payload,
        qos,
        retain,
        props,
        None,
        now,
    ))
}

/// Publishes one message (`batch`: `{"messages": [...]}`).
pub(super) fn handle(broker: &Arc<Broker>, api: &ApiConfig, body: &[u8], batch: bool) -> Answer {
    let req = json_body(body)?;
    let principal = Principal {
        user: Some(api.user.clone()),
    };
    let now = Instant::now();
    if !batch {
        let m = message(&req, broker, &principal, now)?;
        let (qos, size) = (m.qos, m.payload.len());
        broker.metrics.count_received(qos, size);
        let matched = broker.publish(m, now);
        return Ok((200, Some(json!({"published": 1, "matched": [matched]}))));
    }
    let list = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| err(400, "bad_json", "a batch is {\"messages\": [...]}"))?;
    if list.is_empty() || list.len() > api.max_batch {
        return Err(err(
            400,
            "bad_batch",
            format!(
                "a batch has 1 to {} messages (api.max_batch)",
                api.max_batch
            ),
        ));
    }
    let mut checked = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        let m = message(m, broker, &principal, now).map_err(|mut e| {
            e.reason = format!("messages[{i}]: {}", e.reason);
            e
        })?;
        checked.push(m);
    }
    let mut matched = Vec::with_capacity(checked.len());
    for m in checked {
        broker.metrics.count_received(m.qos, m.payload.len());
        matched.push(broker.publish(m, now));
    }
    Ok((
        200,
        Some(json!({"published": matched.len(), "matched": matched})),
    ))
}
