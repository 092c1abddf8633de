//! The registry of connected clients: who is connected, over what, from where,
//! since when — what the HTTP API lists and what webhooks report. A transport
//! registers a client once it is connected ([`super::Hooks::client_connected`])
//! and holds the returned [`ClientHandle`]; dropping the handle unregisters it
//! and reports the disconnection with the reason the transport recorded.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use parking_lot::Mutex;

use crate::broker::Session;
use crate::metrics::Transport;

/// What the registry knows of one connected client.
#[derive(Debug)]
pub struct ClientEntry {
    /// The connection's id (unique per process).
    pub conn_id: u64,
    /// The transport.
    pub transport: Transport,
    /// The protocol: its index in [`crate::metrics::VERSION_LABELS`] (a byte, not
    /// a 16-byte `&str` in every entry); see [`ClientEntry::protocol`].
    protocol: u8,
    /// The peer address.
    pub address: SocketAddr,
    /// The authenticated user, if any.
    pub user: Option<Box<str>>,
    /// When the client connected (wall clock), milliseconds since the Unix epoch.
    pub connected_at_ms: u64,
    /// The session the connection is attached to.
    pub session: Arc<Session>,
    /// Wakes the connection (to notice a disconnect request).
    wake: Arc<crate::conn::ConnWake>,
    /// Set by [`ClientRegistry::disconnect`]: the reason the API gave (the first
    /// request's). What connections check on every wake-up, without a lock.
    /// (A `String` boxed: 16 bytes in every entry instead of 24, for what few
    /// entries ever hold.)
    #[allow(clippy::box_collection)]
    kick: OnceLock<Box<String>>,
}

impl crate::keyed::Keyed for ClientEntry {
    fn key(&self) -> &str {
        self.session.client_id.as_str()
    }
}

impl ClientEntry {
    /// The Client Identifier (the server-assigned one for `/ws` clients): the
    /// session's.
    pub fn client_id(&self) -> &mqtt_proto::Utf8Bytes {
        &self.session.client_id
    }

    /// `3.1`, `3.1.1`, `5.0` or `json`.
    pub fn protocol(&self) -> &'static str {
        crate::metrics::VERSION_LABELS
            .get(usize::from(self.protocol))
            .copied()
            .unwrap_or("?")
    }

    /// The disconnect reason requested through the API, if any.
    pub fn kick_reason(&self) -> Option<String> {
        self.kick.get().map(|r| r.to_string())
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
    pub wake: Arc<crate::conn::ConnWake>,
}

/// Connected clients by Client Identifier.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<crate::keyed::KeyedSet<ClientEntry>>,
}

impl ClientRegistry {
    pub(super) fn insert(&self, c: NewClient) -> Arc<ClientEntry> {
        let entry = Arc::new(ClientEntry {
            conn_id: c.conn_id,
            transport: c.transport,
            protocol: crate::metrics::VERSION_LABELS
                .iter()
                .position(|l| *l == c.protocol)
                .and_then(|i| u8::try_from(i).ok())
                .unwrap_or(u8::MAX),
            address: c.address,
            user: c.user.map(String::into_boxed_str),
            connected_at_ms: super::event::unix_ms(SystemTime::now()),
            session: c.session,
            wake: c.wake,
            kick: OnceLock::new(),
        });
        // A take-over replaces the entry of the connection it ends; a connection
        // already taken over (two CONNECTs with one client id racing between the
        // broker and here) does not replace its successor's entry. Lock order:
        // this registry, then the session.
        let mut clients = self.clients.lock();
        if entry.session.lock().is_attached(entry.conn_id) {
            clients.insert(entry.clone());
        }
        drop(clients);
        entry
    }

    /// Removes `entry` unless a newer connection of the same client replaced it.
    pub(super) fn remove(&self, entry: &ClientEntry) {
        self.clients
            .lock()
            .remove_if(entry.client_id(), |e| e.conn_id == entry.conn_id);
    }

    /// Every connected client, sorted by Client Identifier.
    pub fn list(&self) -> Vec<Arc<ClientEntry>> {
        let mut all: Vec<_> = self.clients.lock().values().cloned().collect();
        all.sort_by(|a, b| a.client_id().as_str().cmp(b.client_id().as_str()));
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
    /// whether such a client was connected. A second request before the
    /// connection closed changes nothing: the first reason is the one sent.
    pub fn disconnect(&self, client_id: &str, reason: &str) -> bool {
        let Some(entry) = self.get(client_id) else {
            return false;
        };
        // A second request while the first is being acted on changes nothing.
        let _ = entry.kick.set(Box::new(reason.into()));
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
    /// The reason and detail set by [`ClientHandle::set_reason`] (boxed: set once,
    /// at the end, and 32 bytes fewer in every connection until then).
    reason: Option<Box<(&'static str, Option<String>)>>,
}

impl ClientHandle {
    pub(super) fn new(hooks: Arc<super::Hooks>, entry: Arc<ClientEntry>) -> Self {
        Self {
            hooks,
            entry,
            reason: None,
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
        if self.reason.as_ref().is_none_or(|r| r.0 == "closed") {
            self.reason = Some(Box::new((reason, detail)));
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
        let (reason, detail) = self.reason.take().map_or(("closed", None), |r| *r);
        self.hooks.client_disconnected(&self.entry, reason, detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::ConnLink;
    use crate::conn::ConnWake;
    use mqtt_proto::ProtocolVersion;

    fn new_client(session: &Arc<Session>, conn_id: u64) -> NewClient {
        NewClient {
            conn_id,
            transport: Transport::MqttTcp,
            protocol: "5.0",
            address: SocketAddr::from(([127, 0, 0, 1], 1883)),
            user: None,
            session: session.clone(),
            wake: Arc::new(ConnWake::new()),
        }
    }

    fn attach(session: &Session, conn_id: u64) {
        session.lock().link = Some(ConnLink {
            id: conn_id,
            wake: Arc::new(ConnWake::new()),
        });
    }

    /// Two connections with one client id race (MQTT-3.1.4-3, take-over): the one
    /// taken over before it registers does not replace its successor's entry, and
    /// its end does not remove it.
    #[test]
    fn a_connection_taken_over_before_registering_leaves_its_successor_listed() {
        let registry = ClientRegistry::default();
        let session = Arc::new(Session::new(1, "c".into(), ProtocolVersion::V5, 0));
        attach(&session, 2);
        let b = registry.insert(new_client(&session, 2));
        let a = registry.insert(new_client(&session, 1));
        assert_eq!(registry.get("c").map(|e| e.conn_id), Some(2));
        registry.remove(&a);
        assert_eq!(registry.get("c").map(|e| e.conn_id), Some(2));
        registry.remove(&b);
        assert!(registry.get("c").is_none());
        // The ordinary take-over: the newer connection's entry replaces the older.
        attach(&session, 1);
        let _a = registry.insert(new_client(&session, 1));
        attach(&session, 3);
        let _c = registry.insert(new_client(&session, 3));
        assert_eq!(registry.get("c").map(|e| e.conn_id), Some(3));
        assert_eq!(registry.len(), 1);
    }
}
