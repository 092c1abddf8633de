//! The registry of connected clients: who is connected, over what, from where,
//! since when — what the HTTP API lists and what webhooks report. A transport
//! registers a client once it is connected ([`super::Hooks::client_connected`])
//! and holds the returned [`ClientHandle`]; dropping the handle unregisters it
//! and reports the disconnection with the reason the transport recorded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::broker::Session;
use crate::metrics::Transport;

/// What the registry knows of one connected client.
#[derive(Debug)]
pub struct ClientEntry {
    /// The Client Identifier (the server-assigned one for `/ws` clients): the
    /// session's bytes, shared, not a copy per connection.
    pub client_id: mqtt_proto::Utf8Bytes,
    /// The connection's id (unique per process).
    pub conn_id: u64,
    /// The transport.
    pub transport: Transport,
    /// `3.1`, `3.1.1`, `5.0` or `json`.
    pub protocol: &'static str,
    /// The peer address.
    pub address: SocketAddr,
    /// The authenticated user, if any.
    pub user: Option<String>,
    /// When the client connected (wall clock).
    pub connected_at: SystemTime,
    /// The session the connection is attached to.
    pub session: Arc<Session>,
    /// Wakes the connection (to notice a disconnect request).
    wake: Arc<Notify>,
    /// Set by [`ClientRegistry::disconnect`]: the reason the API gave.
    kick: Mutex<Option<String>>,
    /// Whether `kick` is set: what connections check on every wake-up, without
    /// a lock.
    kicked: AtomicBool,
}

impl ClientEntry {
    /// The disconnect reason requested through the API, if any.
    pub fn kick_reason(&self) -> Option<String> {
        if !self.kicked.load(Ordering::Acquire) {
            return None;
        }
        self.kick.lock().clone()
    }
}

/// A new client, as a transport describes it.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// The connection's id.
    pub conn_id: u64,
    /// The transport.
    pub transport: Transport,
    /// `3.1`, `3.1.1`, `5.0` or `json`.
    pub protocol: &'static str,
    /// The peer address.
    pub address: SocketAddr,
    /// The authenticated user, if any.
    pub user: Option<String>,
    /// The session.
    pub session: Arc<Session>,
    /// The connection's wake-up.
    pub wake: Arc<Notify>,
}

/// Connected clients by Client Identifier.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<HashMap<mqtt_proto::Utf8Bytes, Arc<ClientEntry>>>,
}

impl ClientRegistry {
    pub(super) fn insert(&self, c: NewClient) -> Arc<ClientEntry> {
        let entry = Arc::new(ClientEntry {
            client_id: c.session.client_id.clone(),
            conn_id: c.conn_id,
            transport: c.transport,
            protocol: c.protocol,
            address: c.address,
            user: c.user,
            connected_at: SystemTime::now(),
            session: c.session,
            wake: c.wake,
            kick: Mutex::new(None),
            kicked: AtomicBool::new(false),
        });
        // A take-over replaces the entry of the connection it ends.
        self.clients
            .lock()
            .insert(entry.client_id.clone(), entry.clone());
        entry
    }

    /// Removes `entry` unless a newer connection of the same client replaced it.
    pub(super) fn remove(&self, entry: &ClientEntry) {
        let mut clients = self.clients.lock();
        if clients
            .get(&entry.client_id)
            .is_some_and(|e| e.conn_id == entry.conn_id)
        {
            clients.remove(&entry.client_id);
        }
    }

    /// Every connected client, sorted by Client Identifier.
    pub fn list(&self) -> Vec<Arc<ClientEntry>> {
        let mut all: Vec<_> = self.clients.lock().values().cloned().collect();
        all.sort_by(|a, b| a.client_id.as_str().cmp(b.client_id.as_str()));
        all
    }

    /// The connected client `client_id`.
    pub fn get(&self, client_id: &str) -> Option<Arc<ClientEntry>> {
        self.clients.lock().get(client_id).cloned()
    }

    /// How many clients are connected.
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks the connection of `client_id` to close with `reason` (MQTT 5:
    /// DISCONNECT 0x98 Administrative action; `/ws`: close 1008). Returns
    /// whether such a client was connected.
    pub fn disconnect(&self, client_id: &str, reason: &str) -> bool {
        let Some(entry) = self.get(client_id) else {
            return false;
        };
        *entry.kick.lock() = Some(reason.to_string());
        entry.kicked.store(true, Ordering::Release);
        entry.wake.notify_one();
        true
    }
}

/// A registered client; dropping it unregisters the client and reports its
/// disconnection (with the last reason set by [`ClientHandle::set_reason`]).
#[derive(Debug)]
pub struct ClientHandle {
    hooks: Arc<super::Hooks>,
    entry: Arc<ClientEntry>,
    reason: &'static str,
    detail: Option<String>,
}

impl ClientHandle {
    pub(super) fn new(hooks: Arc<super::Hooks>, entry: Arc<ClientEntry>) -> Self {
        Self {
            hooks,
            entry,
            reason: "closed",
            detail: None,
        }
    }

    /// The registry entry.
    pub fn entry(&self) -> &Arc<ClientEntry> {
        &self.entry
    }

    /// Why the connection is ending (`client_disconnect`, `connection_lost`,
    /// `protocol_error`, `keep_alive_timeout`, `session_taken_over`,
    /// `administrative_action`, `server_shutting_down`), with a detail for humans.
    /// The first reason set wins: what ended the connection, not its aftermath.
    pub fn set_reason(&mut self, reason: &'static str, detail: Option<String>) {
        if self.reason == "closed" {
            self.reason = reason;
            self.detail = detail;
        }
    }

    /// The disconnect reason requested through the API, if any.
    pub fn kicked(&self) -> Option<String> {
        self.entry.kick_reason()
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        self.hooks.clients.remove(&self.entry);
        self.hooks
            .client_disconnected(&self.entry, self.reason, self.detail.take());
    }
}
