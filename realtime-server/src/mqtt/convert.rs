//! Conversions between packets and the broker's message model.

use std::time::Instant;

use mqtt_proto::{Publish, PublishProperties, Will, WillProperties};

use crate::broker::{Message, SessionKey, WillMessage};

/// The broker message for a received PUBLISH (topic alias already resolved into
/// `publish.topic`).
pub(super) fn message_from_publish(
    publish: Publish,
    publisher: SessionKey,
    now: Instant,
) -> Message {
    Message::new(
        publish.topic,
        publish.payload,
        publish.qos,
        publish.retain,
        publish.properties.into_properties(),
        Some(publisher),
        now,
    )
}

/// The Will of a CONNECT as a broker message and its delay (MQTT 5.0 §3.1.3.2):
/// Will Properties become the PUBLISH properties subscribers receive, User
/// Properties in order (MQTT-3.1.3-10).
pub(super) fn will_message(will: Will, now: Instant) -> WillMessage {
    let WillProperties {
        will_delay_interval,
        payload_format_indicator,
        message_expiry_interval,
        content_type,
        response_topic,
        correlation_data,
        user_properties,
    } = will.properties;
    let properties = PublishProperties {
        payload_format_indicator,
        message_expiry_interval,
        topic_alias: None,
        response_topic,
        correlation_data,
        content_type,
        subscription_identifiers: Vec::new(),
        user_properties,
    };
    let message = Message::new(
        will.topic,
        will.payload,
        will.qos,
        will.retain,
        properties,
        None,
        now,
    );
    // Kept for the whole connection: its own allocation, not the CONNECT's buffer.
    WillMessage {
        message: message.compacted(),
        delay: will_delay_interval.unwrap_or(0),
        due: None,
    }
}
