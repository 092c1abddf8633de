//! Fixtures for the security tests: a password file and an ACL in a temporary
//! directory, and a configuration that uses them with anonymous access off.

use std::path::PathBuf;

use realtime_server::auth::{Credential, PasswordFile};

/// Users of [`SecurityFixture`]: `alice`/`wonderland`, `bob`/`builder`.
pub const USERS: [(&str, &str); 2] = [("alice", "wonderland"), ("bob", "builder")];

/// The ACL of [`SecurityFixture`].
pub const ACL: &str = "\
# anonymous clients (where allowed): read public/#
topic read public/#

user alice
topic readwrite alice/#
topic read public/#
topic subscribe #

user bob
topic readwrite bob/#
topic write alice/inbox
topic write public/#

pattern write clients/%c/#
";

/// A temporary directory holding `passwd` and `acl`.
pub struct SecurityFixture {
    /// The directory (removed on drop).
    pub dir: tempfile::TempDir,
    /// The password file.
    pub passwd: PathBuf,
    /// The ACL file.
    pub acl: PathBuf,
}

impl SecurityFixture {
    /// Writes the files (4096 PBKDF2 iterations: fast tests, RFC 7677's minimum).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut file = PasswordFile::default();
        for (user, password) in USERS {
            file.set(user, Credential::new(password.as_bytes(), 4096));
        }
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, file.to_text()).unwrap();
        let acl = dir.path().join("acl");
        std::fs::write(&acl, ACL).unwrap();
        Self { dir, passwd, acl }
    }

    /// A loopback configuration with these files and anonymous access off on
    /// every listener.
    pub fn config(&self) -> realtime_server::Config {
        let mut config = crate::loopback_config();
        config.auth.password_file = Some(self.passwd.clone());
        config.auth.acl_file = Some(self.acl.clone());
        config.listeners.mqtt.allow_anonymous = Some(false);
        config.listeners.http.allow_anonymous = Some(false);
        config
    }
}

impl Default for SecurityFixture {
    fn default() -> Self {
        Self::new()
    }
}
