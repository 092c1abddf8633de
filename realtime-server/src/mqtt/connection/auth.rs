//! Authentication of a CONNECT: user name and password (checked off the reactor
//! threads), anonymous access by listener, and MQTT 5 enhanced authentication
//! (MQTT 5.0 §4.12) through [`EnhancedAuth`], including re-authentication.

use std::time::Instant;

use bytes::Bytes;
use mqtt_proto::{
    Auth, Connect, Decoder, Disconnect, Packet, ProtocolVersion, ReasonCode, Utf8Bytes,
};

use super::MqttConnection;
use crate::auth::{AuthFailure, EnhancedAuth, PendingVerification, Step};
use crate::conn::Status;

/// A CONNECT whose authentication is in progress.
#[derive(Debug)]
pub(super) struct PendingConnect {
    connect: Connect,
    wait: Waiting,
}

#[derive(Debug)]
enum Waiting {
    /// A password check on the blocking pool; reading is paused meanwhile.
    Password {
        user: String,
        verification: PendingVerification,
    },
    /// The authentication webhook is deciding; reading is paused meanwhile.
    Webhook {
        user: Option<String>,
        verification: PendingVerification,
    },
    /// An enhanced authentication exchange: AUTH packets are read with `decoder`.
    Enhanced {
        exchange: Box<dyn EnhancedAuth>,
        decoder: Decoder,
    },
}

impl MqttConnection {
    /// Whether a password check is running (reading waits for it).
    pub(super) fn verifying(&self) -> bool {
        matches!(
            self.pending.as_deref(),
            Some(PendingConnect {
                wait: Waiting::Password { .. } | Waiting::Webhook { .. },
                ..
            })
        )
    }

    fn refuse_auth(&mut self, connect: &Connect, failure: AuthFailure, why: &str) -> Status {
        let version = connect.protocol_version;
        let user = connect.username.as_ref().map_or("-", |u| u.as_str());
        tracing::info!(peer = %self.peer, client_id = connect.client_id.as_str(), user, "authentication failed: {why}");
        match failure {
            AuthFailure::NotAuthorized => self.broker.auth.metrics.anonymous_refused.inc(),
            AuthFailure::BadCredentials => self.broker.auth.metrics.bad_credentials.inc(),
        }
        self.refuse_connect(
            version,
            connect.client_id.as_str(),
            failure.reason_code(),
            why,
        )
    }

    /// Decides how `connect` authenticates: finishes it now (anonymous), or
    /// starts a password check or an enhanced authentication exchange.
    pub(super) fn authenticate(&mut self, connect: Connect, now: Instant) -> Status {
        let auth = self.broker.auth.clone();
        if let Some(method) = connect.properties.authentication_method.clone() {
            let Some(mut exchange) = auth.enhanced(method.as_str()) else {
                // MQTT-4.12.0-1: a method the server does not support.
                return self.refuse_connect(
                    connect.protocol_version,
                    connect.client_id.as_str(),
                    ReasonCode::BadAuthenticationMethod,
                    "authentication method not supported [MQTT-4.12.0-1]",
                );
            };
            let data = connect
                .properties
                .authentication_data
                .clone()
                .unwrap_or_default();
            let step = exchange.step(&data);
            let decoder = Decoder::new(ProtocolVersion::V5)
                .with_max_packet_size(self.broker.config().max_packet_size);
            self.pending = Some(Box::new(PendingConnect {
                connect,
                wait: Waiting::Enhanced { exchange, decoder },
            }));
            return self.enhanced_step(step, now);
        }
        if let Some(hook) = self.broker.hooks.auth.clone() {
            // An authentication webhook decides every CONNECT (with or without
            // credentials); the password file is not consulted.
            let req = crate::hooks::AuthRequest {
                kind: "mqtt",
                client_id: connect.client_id.as_str().to_string(),
                username: connect.username.as_ref().map(|u| u.as_str().to_string()),
                password: connect.password.as_ref().map(|p| p.to_vec()),
                token: None,
                transport: self.transport.label(),
                address: self.peer.to_string(),
            };
            let verification = hook.check_async(req, self.wake.clone());
            let user = connect.username.as_ref().map(|u| u.as_str().to_string());
            self.pending = Some(Box::new(PendingConnect {
                connect,
                wait: Waiting::Webhook { user, verification },
            }));
            return self.poll_verification(now);
        }
        if !auth.has_passwords() {
            // Without a password file nothing can be checked: the client is
            // anonymous, whatever credentials it sent.
            return if self.allow_anonymous {
                self.finish_connect(connect, None, None, now)
            } else if connect.username.is_some() || connect.password.is_some() {
                self.refuse_auth(
                    &connect,
                    AuthFailure::BadCredentials,
                    "no password file to check credentials against, and anonymous access is off",
                )
            } else {
                self.refuse_auth(
                    &connect,
                    AuthFailure::NotAuthorized,
                    "anonymous access is not allowed on this listener",
                )
            };
        }
        match (&connect.username, &connect.password) {
            (Some(user), Some(password)) => {
                let verification = auth.verify_async(
                    user.as_str().to_string(),
                    password.to_vec(),
                    self.wake.clone(),
                );
                let user = user.as_str().to_string();
                self.pending = Some(Box::new(PendingConnect {
                    connect,
                    wait: Waiting::Password { user, verification },
                }));
                // Without a runtime the answer is already there.
                self.poll_verification(now)
            }
            (None, Some(_)) => self.refuse_auth(
                &connect,
                AuthFailure::BadCredentials,
                "a password without a user name",
            ),
            (Some(_), None) => self.refuse_auth(
                &connect,
                AuthFailure::BadCredentials,
                "a user name without a password",
            ),
            (None, None) if self.allow_anonymous => self.finish_connect(connect, None, None, now),
            (None, None) => self.refuse_auth(
                &connect,
                AuthFailure::NotAuthorized,
                "anonymous access is not allowed on this listener",
            ),
        }
    }

    /// Finishes a CONNECT whose password check has answered.
    pub(super) fn poll_verification(&mut self, now: Instant) -> Status {
        let Some(pending) = self.pending.as_mut() else {
            return Status::Open;
        };
        let verification = match &mut pending.wait {
            Waiting::Password { verification, .. } | Waiting::Webhook { verification, .. } => {
                verification
            }
            Waiting::Enhanced { .. } => return Status::Open,
        };
        let Some(ok) = verification.poll() else {
            return Status::Open;
        };
        let Some(pending) = self.pending.take() else {
            return Status::Open;
        };
        let PendingConnect { connect, wait } = *pending;
        let user = match wait {
            Waiting::Password { user, .. } => user,
            Waiting::Webhook { user, .. } => {
                return if ok {
                    self.finish_connect(connect, user, None, now)
                } else {
                    let failure = if connect.username.is_some() || connect.password.is_some() {
                        AuthFailure::BadCredentials
                    } else {
                        AuthFailure::NotAuthorized
                    };
                    self.refuse_auth(&connect, failure, "refused by the authentication webhook")
                };
            }
            Waiting::Enhanced { .. } => return Status::Close,
        };
        if ok {
            self.finish_connect(connect, Some(user), None, now)
        } else {
            self.refuse_auth(
                &connect,
                AuthFailure::BadCredentials,
                "bad user name or password",
            )
        }
    }

    fn enhanced_step(&mut self, step: Step, now: Instant) -> Status {
        let Some(pending) = self.pending.as_ref() else {
            return Status::Close;
        };
        let Waiting::Enhanced { exchange, .. } = &pending.wait else {
            return Status::Close;
        };
        let method = exchange.method();
        match step {
            Step::Continue(data) => {
                self.send_auth(ReasonCode::ContinueAuthentication, method, Some(data));
                Status::Open
            }
            Step::Success { user, data } => match self.pending.take() {
                Some(p) => self.finish_connect(p.connect, Some(user), Some((method, data)), now),
                None => Status::Close,
            },
            Step::Failure(failure) => match self.pending.take() {
                Some(p) => self.refuse_auth(&p.connect, failure, "enhanced authentication failed"),
                None => Status::Close,
            },
        }
    }

    fn send_auth(&mut self, code: ReasonCode, method: &'static str, data: Option<Bytes>) {
        let mut auth = Auth {
            reason_code: code,
            ..Default::default()
        };
        auth.properties.authentication_method = Some(Utf8Bytes::from_static(method));
        auth.properties.authentication_data = data;
        self.send(&Packet::Auth(auth));
    }

    /// Reads packets while a CONNECT waits for its authentication: `None` to go on
    /// reading normally (authentication finished), `Some` to stop.
    pub(super) fn read_during_auth(
        &mut self,
        input: &mut bytes::BytesMut,
        now: Instant,
    ) -> Option<Status> {
        let pending = self.pending.as_mut()?;
        let Waiting::Enhanced { decoder, exchange } = &mut pending.wait else {
            // A password check: the rest of the input waits for it.
            return Some(Status::Open);
        };
        let method = exchange.method();
        let packet = match decoder.decode(input) {
            Ok(None) => return Some(Status::Open),
            Ok(Some(packet)) => packet,
            Err(err) => {
                let why = err.to_string();
                return Some(self.refuse_pending(err.reason_code(), &why));
            }
        };
        let status = match packet {
            Packet::Auth(a)
                if a.reason_code == ReasonCode::ContinueAuthentication
                    && a.properties.authentication_method.as_deref() == Some(method) =>
            {
                let data = a
                    .properties
                    .into_inner()
                    .authentication_data
                    .unwrap_or_default();
                let step = exchange.step(&data);
                self.enhanced_step(step, now)
            }
            Packet::Auth(_) => self.refuse_pending(
                ReasonCode::ProtocolError,
                "AUTH with another method or reason during authentication [MQTT-4.12.0-5]",
            ),
            Packet::Disconnect(_) => {
                self.pending = None;
                self.closed = true;
                Status::Close
            }
            other => {
                let why = format!(
                    "{} before CONNACK: only AUTH or DISCONNECT may be sent [MQTT-3.1.4-?/4.12.0]",
                    other.packet_type()
                );
                self.refuse_pending(ReasonCode::ProtocolError, &why)
            }
        };
        if status == Status::Close || self.pending.is_some() {
            return Some(status);
        }
        None
    }

    fn refuse_pending(&mut self, code: ReasonCode, why: &str) -> Status {
        match self.pending.take() {
            Some(p) => self.refuse_connect(
                p.connect.protocol_version,
                p.connect.client_id.as_str(),
                code,
                why,
            ),
            None => Status::Close,
        }
    }

    /// AUTH after CONNACK: re-authentication (MQTT 5.0 §4.12.1) with the method
    /// of the CONNECT; without one, a Protocol Error (MQTT-4.12.0-7).
    pub(super) fn on_reauth(&mut self, a: Auth, now: Instant) -> Status {
        let auth = self.broker.auth.clone();
        let Some(live) = self.live.as_mut() else {
            return Status::Close;
        };
        let Some(state) = live.extras.as_deref_mut().and_then(|e| e.auth.as_mut()) else {
            return self.fail(
                ReasonCode::ProtocolError,
                "AUTH without an Authentication Method in CONNECT [MQTT-4.12.0-7]",
                now,
            );
        };
        let method = state.method;
        if a.properties.authentication_method.as_deref() != Some(method) {
            return self.fail(
                ReasonCode::ProtocolError,
                "AUTH with another Authentication Method than CONNECT [MQTT-4.12.1-1]",
                now,
            );
        }
        let data = a
            .properties
            .into_inner()
            .authentication_data
            .unwrap_or_default();
        let step = match (a.reason_code, state.reauth.as_mut()) {
            (ReasonCode::ReAuthenticate, None) => match auth.enhanced(method) {
                Some(mut exchange) => {
                    let step = exchange.step(&data);
                    state.reauth = Some(exchange);
                    step
                }
                None => Step::Failure(AuthFailure::BadCredentials),
            },
            (ReasonCode::ContinueAuthentication, Some(exchange)) => exchange.step(&data),
            _ => {
                return self.fail(
                    ReasonCode::ProtocolError,
                    "AUTH reason code out of sequence [MQTT-4.12.1-1]",
                    now,
                );
            }
        };
        match step {
            Step::Continue(data) => {
                self.send_auth(ReasonCode::ContinueAuthentication, method, Some(data));
                Status::Open
            }
            Step::Success { user, data } => {
                state.reauth = None;
                if live.principal.user.as_deref() != Some(user.as_str()) {
                    return self.fail(
                        ReasonCode::NotAuthorized,
                        "re-authenticated as another user",
                        now,
                    );
                }
                self.send_auth(ReasonCode::Success, method, data);
                Status::Open
            }
            Step::Failure(failure) => {
                state.reauth = None;
                self.broker.auth.metrics.bad_credentials.inc();
                tracing::info!(peer = %self.peer, "re-authentication failed");
                // 0x86 is no DISCONNECT reason (MQTT 5.0 §3.14.2.1): 0x87.
                let _ = failure;
                let mut d = Disconnect::new(ReasonCode::NotAuthorized);
                d.properties.reason_string =
                    Some(Utf8Bytes::from_static("re-authentication failed"));
                self.send(&Packet::Disconnect(d));
                self.close(crate::broker::Departure::WithWill, now)
            }
        }
    }
}
