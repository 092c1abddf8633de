//! What connects the broker to stateless functions (issue 9, "serverless
//! bridge"): the registry of connected clients the HTTP API reads
//! ([`clients`]), the webhooks called on client and message events
//! ([`webhooks`]), and the optional authentication webhook ([`auth`]).
//!
//! Transports report events through [`Hooks`] (one per broker, `broker.hooks`);
//! nothing here ever blocks a connection: events go to bounded per-endpoint
//! queues with `try_send`, and a full queue drops (counted, logged).

pub mod auth;
pub mod clients;
pub mod event;
pub mod http_client;
pub mod sign;
pub mod webhooks;

use std::sync::Arc;

use serde_json::json;

use crate::broker::Message;
pub use auth::{AuthRequest, AuthWebhook};
pub use clients::{ClientEntry, ClientHandle, ClientRegistry, NewClient};
pub use event::EventKind;
pub use webhooks::Webhooks;

/// The broker's hooks: client registry, webhooks, authentication webhook.
#[derive(Debug, Default)]
pub struct Hooks {
    /// Connected clients.
    pub clients: ClientRegistry,
    /// Event webhooks (none configured: every event is a no-op).
    pub webhooks: Webhooks,
    /// The authentication webhook, if configured.
    pub auth: Option<Arc<AuthWebhook>>,
}

impl Hooks {
    /// Registers a connected client and reports `client.connected`; keep the
    /// handle for the life of the connection.
    pub fn client_connected(self: &Arc<Self>, client: NewClient) -> ClientHandle {
        let entry = self.clients.insert(client);
        self.webhooks.emit(EventKind::ClientConnected, None, || {
            let mut body = event::client_json(&entry);
            if let Some(o) = body.as_object_mut() {
                o.insert("event".into(), json!(EventKind::ClientConnected.label()));
            }
            body
        });
        ClientHandle::new(self.clone(), entry)
    }

    pub(crate) fn client_disconnected(
        &self,
        entry: &ClientEntry,
        reason: &'static str,
        detail: Option<String>,
    ) {
        self.webhooks.emit(EventKind::ClientDisconnected, None, || {
            let mut body = event::client_json(entry);
            if let Some(o) = body.as_object_mut() {
                o.insert("event".into(), json!(EventKind::ClientDisconnected.label()));
                o.insert("reason".into(), json!(reason));
                o.insert("detail".into(), json!(detail));
            }
            body
        });
    }

    /// Reports a granted subscription.
    pub fn subscribed(&self, client_id: &str, filter: &str, qos: u8) {
        self.webhooks.emit(EventKind::ClientSubscribed, None, || {
            json!({
                "event": EventKind::ClientSubscribed.label(),
                "client_id": client_id,
                "filter": filter,
                "qos": qos,
            })
        });
    }

    /// Reports a removed subscription.
    pub fn unsubscribed(&self, client_id: &str, filter: &str) {
        self.webhooks.emit(EventKind::ClientUnsubscribed, None, || {
            json!({
                "event": EventKind::ClientUnsubscribed.label(),
                "client_id": client_id,
                "filter": filter,
            })
        });
    }

    /// Reports a message accepted by the broker (endpoints whose topic filters
    /// match it).
    pub fn published(&self, message: &Message) {
        self.webhooks
            .emit(EventKind::MessagePublished, Some(&message.topic), || {
                event::message_json(message)
            });
    }
}
