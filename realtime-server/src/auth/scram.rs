//! MQTT 5 enhanced authentication (MQTT 5.0 §4.12) behind a small hook,
//! [`EnhancedAuth`], with one method built in: SCRAM-SHA-256 (RFC 5802, RFC 7677)
//! without channel binding.
//!
//! The exchange on the wire: CONNECT with Authentication Method `SCRAM-SHA-256`
//! and the client-first-message as Authentication Data; the server answers AUTH
//! 0x18 with the server-first-message; the client sends AUTH 0x18 with the
//! client-final-message; the server answers CONNACK 0x00 carrying the
//! server-final-message (`v=` signature) — or CONNACK 0x86 if the proof is wrong.
//! Re-authentication (AUTH 0x19) runs the same steps and ends with AUTH 0x00.
//!
//! To add a method, implement [`EnhancedAuth`] and return it from
//! [`super::Auth::enhanced`].

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;

use super::password::{Credential, DEFAULT_ITERATIONS, constant_time_eq, hmac, sha256};
use super::{Auth, AuthFailure};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The Authentication Method name of SCRAM-SHA-256.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// What an enhanced authentication step decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send AUTH 0x18 (Continue authentication) with this data and wait for the
    /// client's next AUTH.
    Continue(Bytes),
    /// Authenticated as `user`; the CONNACK (or AUTH 0x00) carries `data`.
    Success {
        /// The authenticated user name.
        user: String,
        /// Final Authentication Data for the client, if any.
        data: Option<Bytes>,
    },
    /// Refused (CONNACK with this reason; after CONNACK, DISCONNECT).
    Failure(AuthFailure),
}

/// One enhanced authentication exchange of one connection.
pub trait EnhancedAuth: Send + std::fmt::Debug {
    /// The Authentication Method.
    fn method(&self) -> &'static str;
    /// The next step, given the client's Authentication Data (from CONNECT first,
    /// then from each AUTH).
    fn step(&mut self, data: &[u8]) -> Step;
}

impl Auth {
    /// A new exchange for the Authentication Method `method`, if the server offers it.
    pub fn enhanced(self: &Arc<Self>, method: &str) -> Option<Box<dyn EnhancedAuth>> {
        (method == SCRAM_SHA_256 && self.scram && self.has_passwords())
            .then(|| Box::new(ScramSha256::new(self.clone())) as Box<dyn EnhancedAuth>)
    }
}

#[derive(Debug)]
enum ScramState {
    Start,
    SentFirst(Box<SentFirst>),
    Done,
}

#[derive(Debug)]
struct SentFirst {
    user: String,
    /// `None` for an unknown user: the exchange goes on and fails at the end,
    /// so that user names cannot be probed.
    credential: Option<Credential>,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    gs2_header: String,
}

/// The server side of SCRAM-SHA-256.
#[derive(Debug)]
pub struct ScramSha256 {
    auth: Arc<Auth>,
    state: ScramState,
}

/// `saslname` decoding (RFC 5802 §5.1: `=2C` is `,`, `=3D` is `=`).
fn decode_saslname(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('=') {
        out.push_str(rest.get(..pos)?);
        let esc = rest.get(pos..pos + 3)?;
        out.push(match esc {
            "=2C" => ',',
            "=3D" => '=',
            _ => return None,
        });
        rest = rest.get(pos + 3..)?;
    }
    out.push_str(rest);
    Some(out)
}

impl ScramSha256 {
    /// A new exchange checking against `auth`'s password file.
    pub fn new(auth: Arc<Auth>) -> Self {
        Self {
            auth,
            state: ScramState::Start,
        }
    }

    fn first(&mut self, data: &[u8]) -> Option<Bytes> {
        let msg = std::str::from_utf8(data).ok()?;
        // gs2-header: "n,," or "y,," (no channel binding; an authzid is not supported).
        let (gs2_header, bare) = if let Some(b) = msg.strip_prefix("n,,") {
            ("n,,", b)
        } else if let Some(b) = msg.strip_prefix("y,,") {
            ("y,,", b)
        } else {
            return None;
        };
        let mut parts = bare.split(',');
        let user = decode_saslname(parts.next()?.strip_prefix("n=")?)?;
        let client_nonce = parts.next()?.strip_prefix("r=")?;
        if user.is_empty()
            || client_nonce.is_empty()
            || !client_nonce
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
        {
            return None;
        }
        let credential = self.auth.credential(&user);
        let (salt, iterations) = match &credential {
            Some(c) => (c.salt.clone(), c.iterations),
            // A stable fake salt per user name.
            None => (
                sha256(format!("realtime-server fake salt {user}").as_bytes())
                    .get(..16)?
                    .to_vec(),
                DEFAULT_ITERATIONS,
            ),
        };
        let server_nonce: [u8; 18] = rand::random();
        let nonce = format!("{client_nonce}{}", B64.encode(server_nonce));
        let server_first = format!("r={nonce},s={},i={iterations}", B64.encode(salt));
        self.state = ScramState::SentFirst(Box::new(SentFirst {
            user,
            credential,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
            gs2_header: gs2_header.to_string(),
        }));
        Some(Bytes::from(server_first))
    }

    fn last(&mut self, data: &[u8]) -> Step {
        let ScramState::SentFirst(sent) = std::mem::replace(&mut self.state, ScramState::Done)
        else {
            return Step::Failure(AuthFailure::BadCredentials);
        };
        let SentFirst {
            user,
            credential,
            client_first_bare,
            server_first,
            nonce,
            gs2_header,
        } = *sent;
        let fail = |_: &Auth| Step::Failure(AuthFailure::BadCredentials);
        let Ok(msg) = std::str::from_utf8(data) else {
            return fail(&self.auth);
        };
        let Some((without_proof, proof)) = msg.rsplit_once(",p=") else {
            return fail(&self.auth);
        };
        let mut parts = without_proof.split(',');
        let binding_ok = parts.next().and_then(|c| c.strip_prefix("c="))
            == Some(B64.encode(gs2_header.as_bytes()).as_str());
        let nonce_ok = parts.next().and_then(|r| r.strip_prefix("r=")) == Some(nonce.as_str());
        let (Some(credential), true, true, Ok(proof)) =
            (credential, binding_ok, nonce_ok, B64.decode(proof))
        else {
            return fail(&self.auth);
        };
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let client_signature = hmac(&credential.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return fail(&self.auth);
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        if !constant_time_eq(&sha256(&client_key), &credential.stored_key) {
            return fail(&self.auth);
        }
        self.auth.metrics.succeeded.inc();
        let server_signature = hmac(&credential.server_key, auth_message.as_bytes());
        Step::Success {
            user,
            data: Some(Bytes::from(format!("v={}", B64.encode(server_signature)))),
        }
    }
}

impl EnhancedAuth for ScramSha256 {
    fn method(&self) -> &'static str {
        SCRAM_SHA_256
    }

    fn step(&mut self, data: &[u8]) -> Step {
        match self.state {
            ScramState::Start => match self.first(data) {
                Some(reply) => Step::Continue(reply),
                None => {
                    self.state = ScramState::Done;
                    Step::Failure(AuthFailure::BadCredentials)
                }
            },
            ScramState::SentFirst(_) => self.last(data),
            ScramState::Done => Step::Failure(AuthFailure::BadCredentials),
        }
    }
}

/// The client side, for tests: the messages a SCRAM-SHA-256 client sends.
#[doc(hidden)]
pub mod client {
    use super::*;

    /// client-first-message for `user` with `nonce`.
    pub fn first(user: &str, nonce: &str) -> String {
        format!(
            "n,,n={},r={nonce}",
            user.replace('=', "=3D").replace(',', "=2C")
        )
    }

    /// client-final-message for the server-first-message `server_first`; returns
    /// it and the server signature expected in `v=`.
    pub fn last(
        user: &str,
        password: &str,
        nonce: &str,
        server_first: &str,
    ) -> Option<(String, String)> {
        let mut r = None;
        let mut s = None;
        let mut i = None;
        for part in server_first.split(',') {
            match part.split_at_checked(2)? {
                ("r=", v) => r = Some(v),
                ("s=", v) => s = Some(B64.decode(v).ok()?),
                ("i=", v) => i = v.parse::<u32>().ok(),
                _ => {}
            }
        }
        let (r, s, i) = (r?, s?, i?);
        let c = Credential::with_salt(password.as_bytes(), &s, i);
        let salted = super::super::password::salted_password(password.as_bytes(), &s, i);
        let client_key = hmac(&salted, b"Client Key");
        let bare = format!(
            "n={},r={nonce}",
            user.replace('=', "=3D").replace(',', "=2C")
        );
        let without_proof = format!("c=biws,r={r}");
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let sig = hmac(&c.stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(sig).map(|(k, s)| k ^ s).collect();
        let server_sig = hmac(&c.server_key, auth_message.as_bytes());
        Some((
            format!("{without_proof},p={}", B64.encode(proof)),
            format!("v={}", B64.encode(server_sig)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthData, PasswordFile};

    fn auth_with(user: &str, password: &str) -> Arc<Auth> {
        let auth = Arc::new(Auth::default());
        let mut file = PasswordFile::default();
        file.set(user, Credential::new(password.as_bytes(), 4096));
        auth.install(AuthData {
            passwords: Some(file),
            acl: None,
        });
        auth
    }

    fn run(auth: &Arc<Auth>, user: &str, password: &str) -> Step {
        let mut s = auth.enhanced(SCRAM_SHA_256).unwrap();
        let first = client::first(user, "fyko+d2lbbFgONRv9qkxdawL");
        let Step::Continue(server_first) = s.step(first.as_bytes()) else {
            panic!("no server-first-message")
        };
        let server_first = std::str::from_utf8(&server_first).unwrap().to_string();
        assert!(server_first.starts_with("r=fyko+d2lbbFgONRv9qkxdawL"));
        let (last, expected_v) =
            client::last(user, password, "fyko+d2lbbFgONRv9qkxdawL", &server_first).unwrap();
        let step = s.step(last.as_bytes());
        if let Step::Success { data, .. } = &step {
            assert_eq!(
                data.as_deref(),
                Some(expected_v.as_bytes()),
                "RFC 5802 §3 ServerSignature"
            );
        }
        step
    }

    /// RFC 5802 §3 / RFC 7677: the right password proves itself and gets the
    /// server's signature; a wrong one and an unknown user are both 0x86 after a
    /// full exchange (no user-name probing).
    #[test]
    fn scram_sha_256_exchange() {
        let auth = auth_with("user", "pencil");
        assert!(
            matches!(run(&auth, "user", "pencil"), Step::Success { user, .. } if user == "user")
        );
        assert_eq!(
            run(&auth, "user", "pen"),
            Step::Failure(AuthFailure::BadCredentials)
        );
        assert_eq!(
            run(&auth, "nobody", "pencil"),
            Step::Failure(AuthFailure::BadCredentials)
        );
        assert!(matches!(run(&auth, "user", "pencil"), Step::Success { .. }));
    }

    #[test]
    fn scram_rejects_malformed_messages() {
        let auth = auth_with("user", "pencil");
        for bad in [
            "",
            "p=tls-unique,,n=user,r=x",
            "n,,n=user",
            "n,,n=,r=abc",
            "n,,n=us=ZZer,r=abc",
            "n,a=admin,n=user,r=abc",
        ] {
            let mut s = auth.enhanced(SCRAM_SHA_256).unwrap();
            assert_eq!(
                s.step(bad.as_bytes()),
                Step::Failure(AuthFailure::BadCredentials),
                "{bad:?}"
            );
        }
        let mut s = auth.enhanced(SCRAM_SHA_256).unwrap();
        assert!(matches!(s.step(b"n,,n=user,r=abc"), Step::Continue(_)));
        assert_eq!(
            s.step(b"c=biws,r=wrong,p=AAAA"),
            Step::Failure(AuthFailure::BadCredentials)
        );
        assert!(auth.enhanced("PLAIN").is_none());
        assert!(
            Arc::new(Auth::default()).enhanced(SCRAM_SHA_256).is_none(),
            "no password file: no SCRAM"
        );
        assert_eq!(decode_saslname("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
    }
}
