//! The password file: one user per line, `name:SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`
//! (base64; PostgreSQL's format). The stored keys are those of SCRAM-SHA-256
//! (RFC 5802 §3, RFC 7677): `SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt,
//! iterations)`, `StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key"))`,
//! `ServerKey = HMAC(SaltedPassword, "Server Key")`. So one line serves both a
//! plain MQTT password and SCRAM-SHA-256 enhanced authentication, and neither the
//! password nor anything that logs in without it is stored.
//!
//! ```
//! use realtime_server::auth::password::{Credential, PasswordFile};
//!
//! let mut file = PasswordFile::default();
//! file.set("alice", Credential::new(b"secret", 4096));
//! let text = file.to_text();
//! let file = PasswordFile::parse(&text).unwrap();
//! assert!(file.get("alice").unwrap().verify(b"secret"));
//! assert!(!file.get("alice").unwrap().verify(b"wrong"));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Iterations of PBKDF2 for new credentials (`passwd --iterations` changes it).
pub const DEFAULT_ITERATIONS: u32 = 100_000;
/// The fewest iterations accepted (RFC 7677 §4: at least 4096).
pub const MIN_ITERATIONS: u32 = 4096;
/// The most iterations accepted from a file (bounds the cost of one verification).
pub const MAX_ITERATIONS: u32 = 10_000_000;

type HmacSha256 = Hmac<Sha256>;

/// `HMAC-SHA-256(key, data)`.
pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `SHA-256(data)`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// `Hi(password, salt, i)` of RFC 5802 §2.2 (PBKDF2-HMAC-SHA-256, 32 bytes).
pub(crate) fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
    out
}

/// Compares in time independent of where the inputs differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One user's stored credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// The salt.
    pub salt: Vec<u8>,
    /// `SHA-256(ClientKey)`.
    pub stored_key: [u8; 32],
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: [u8; 32],
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// Derives the credential of `password` with a fresh random 16-byte salt.
    pub fn new(password: &[u8], iterations: u32) -> Self {
        let salt: [u8; 16] = rand::random();
        Self::with_salt(password, &salt, iterations)
    }

    /// Derives the credential of `password` with `salt`.
    pub fn with_salt(password: &[u8], salt: &[u8], iterations: u32) -> Self {
        let salted = salted_password(password, salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        Self {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// Whether `password` is this credential's password (one PBKDF2: slow on purpose).
    pub fn verify(&self, password: &[u8]) -> bool {
        let salted = salted_password(password, &self.salt, self.iterations);
        let client_key = hmac(&salted, b"Client Key");
        constant_time_eq(&sha256(&client_key), &self.stored_key)
    }

    fn to_field(&self) -> String {
        format!(
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }

    fn parse_field(field: &str) -> Result<Self, String> {
        let rest = field
            .strip_prefix("SCRAM-SHA-256$")
            .ok_or("the hash does not start with SCRAM-SHA-256$")?;
        let (params, keys) = rest.split_once('$').ok_or("missing `$` before the keys")?;
        let (iterations, salt) = params
            .split_once(':')
            .ok_or("missing `:` between iterations and salt")?;
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| format!("iterations {iterations:?} is not a number"))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "iterations {iterations} outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"
            ));
        }
        let salt = B64.decode(salt).map_err(|e| format!("salt: {e}"))?;
        if salt.is_empty() || salt.len() > 64 {
            return Err("the salt must have 1 to 64 bytes".to_string());
        }
        let (stored, server) = keys.split_once(':').ok_or("missing `:` between the keys")?;
        let key = |s: &str, what: &str| -> Result<[u8; 32], String> {
            B64.decode(s)
                .map_err(|e| format!("{what}: {e}"))?
                .try_into()
                .map_err(|_| format!("{what} must be 32 bytes"))
        };
        Ok(Self {
            iterations,
            salt,
            stored_key: key(stored, "StoredKey")?,
            server_key: key(server, "ServerKey")?,
        })
    }
}

/// Whether `name` can be a user in the file (and an MQTT User Name).
pub fn valid_user_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a user name must not be empty".to_string());
    }
    if name.len() > 65_535 {
        return Err("a user name is at most 65535 bytes (MQTT-1.5.4)".to_string());
    }
    if name.contains([':', '\n', '\r']) || name.chars().any(char::is_control) {
        return Err(format!(
            "user name {name:?} contains `:` or a control character"
        ));
    }
    Ok(())
}

/// A parsed password file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordFile {
    users: BTreeMap<String, Credential>,
}

impl PasswordFile {
    /// Parses a file's text; an error names the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut users = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let at = |m: String| format!("line {}: {m}", i + 1);
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| at("expected `user:hash`".to_string()))?;
            valid_user_name(user).map_err(at)?;
            let credential = Credential::parse_field(hash).map_err(at)?;
            if users.insert(user.to_string(), credential).is_some() {
                return Err(at(format!("user {user:?} appears twice")));
            }
        }
        Ok(Self { users })
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut out = String::from(
            "# realtime-server password file: `realtime-server passwd FILE USER` edits it.\n",
        );
        for (user, c) in &self.users {
            out.push_str(user);
            out.push(':');
            out.push_str(&c.to_field());
            out.push('\n');
        }
        out
    }

    /// The credential of `user`.
    pub fn get(&self, user: &str) -> Option<&Credential> {
        self.users.get(user)
    }

    /// Adds or replaces `user`.
    pub fn set(&mut self, user: &str, credential: Credential) {
        self.users.insert(user.to_string(), credential);
    }

    /// Removes `user`; returns whether it was there.
    pub fn remove(&mut self, user: &str) -> bool {
        self.users.remove(user).is_some()
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there is no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 §3's example: user "user", password "pencil", salt
    /// "W22ZaJ0SNY7soEsUEjb6gQ==", 4096 iterations; the server signature it gives
    /// proves our ServerKey, and the proof our StoredKey.
    #[test]
    fn rfc_7677_example_keys() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let c = Credential::with_salt(b"pencil", &salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let server_signature = hmac(&c.server_key, auth_message.as_bytes());
        assert_eq!(
            B64.encode(server_signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        let client_signature = hmac(&c.stored_key, auth_message.as_bytes());
        let proof = B64
            .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        let client_key: Vec<u8> = proof
            .iter()
            .zip(client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        assert_eq!(sha256(&client_key), c.stored_key);
        assert!(c.verify(b"pencil"));
        assert!(!c.verify(b"Pencil"));
    }

    #[test]
    fn file_round_trip_and_errors_name_the_line() {
        let mut f = PasswordFile::default();
        f.set("alice", Credential::new(b"a", MIN_ITERATIONS));
        f.set("bob", Credential::new(b"b", MIN_ITERATIONS));
        let parsed = PasswordFile::parse(&f.to_text()).unwrap();
        assert_eq!(parsed, f);
        assert!(parsed.get("bob").unwrap().verify(b"b"));
        assert!(!parsed.get("bob").unwrap().verify(b"a"));
        // Two salts differ: the same password gives different hashes.
        assert_ne!(
            Credential::new(b"x", MIN_ITERATIONS).stored_key,
            Credential::new(b"x", MIN_ITERATIONS).stored_key
        );
        let err = PasswordFile::parse("# c\n\nalice:SCRAM-SHA-256$10:AA==$x:y\n").unwrap_err();
        assert!(err.starts_with("line 3:"), "{err}");
        assert!(
            PasswordFile::parse("nocolon\n")
                .unwrap_err()
                .starts_with("line 1:")
        );
        let dup = format!("{}{}", f.to_text(), f.to_text().lines().nth(1).unwrap());
        assert!(PasswordFile::parse(&dup).unwrap_err().contains("twice"));
        assert!(valid_user_name("a:b").is_err());
        assert!(valid_user_name("").is_err());
    }
}
