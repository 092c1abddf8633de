//! Authentication and authorization, shared by every transport.
//!
//! - [`password`]: the password file (salted PBKDF2-HMAC-SHA-256, SCRAM keys).
//! - [`acl`]: the ACL file (per-user and pattern rules; read / write / subscribe).
//! - [`scram`]: SCRAM-SHA-256 for MQTT 5 enhanced authentication, behind the
//!   [`EnhancedAuth`] hook.
//! - [`Auth`]: the files in force, swapped atomically on reload (SIGHUP), and the
//!   bounded pool that runs password verifications off the reactor threads.
//!
//! Policy: a client that presents a user name and password is checked against the
//! password file (bad or unknown: refused, MQTT 5 0x86 / 3.1.1 return code 4). A
//! client without credentials is accepted only where its listener allows anonymous
//! access (by default listeners bound to a loopback address do, others do not:
//! refused with 0x87 / 5). Without a password file, credentials cannot be
//! checked: a client that sends some is treated as anonymous (its user name is not
//! trusted for `%u` or `user` rules).

pub mod acl;
pub mod password;
pub mod scram;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, RwLock};
use tokio::sync::{Semaphore, oneshot};

pub use acl::{Access, Acl};
pub use password::{Credential, DEFAULT_ITERATIONS, PasswordFile};
pub use scram::{EnhancedAuth, ScramSha256, Step};

use crate::metrics::Counter;

/// Who a connection is, once authenticated. (The Client Identifier, for `%c` in
/// ACL patterns, is the session's: [`Auth::allows`] takes it beside.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The authenticated user name; `None` for an anonymous client.
    pub user: Option<String>,
}

/// The one principal every anonymous connection shares.
static ANONYMOUS: std::sync::LazyLock<Arc<Principal>> =
    std::sync::LazyLock::new(|| Arc::new(Principal { user: None }));

impl Principal {
    /// `user`, shared: every anonymous connection holds the same principal (an
    /// idle connection does not carry an allocation to say it has no user).
    pub fn shared(user: Option<String>) -> Arc<Self> {
        match user {
            None => ANONYMOUS.clone(),
            user => Arc::new(Self { user }),
        }
    }

    /// The user name for logs (`-` when anonymous).
    pub fn user_label(&self) -> &str {
        self.user.as_deref().unwrap_or("-")
    }
}

/// What a listener allows its connections: anonymous access, and how fast
/// each may publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerPolicy {
    /// Whether clients without credentials are accepted.
    pub allow_anonymous: bool,
    /// Most messages per second one connection may publish; above it reading
    /// pauses (0: no limit).
    pub max_publish_rate: u32,
}

impl Default for ListenerPolicy {
    /// Anonymous allowed: what in-process tests and the fuzzer expect.
    fn default() -> Self {
        Self {
            allow_anonymous: true,
            max_publish_rate: 0,
        }
    }
}

/// Why credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Unknown user or wrong password (MQTT 5 0x86, 3.1.1 return code 4).
    BadCredentials,
    /// No credentials where anonymous access is not allowed (0x87, code 5).
    NotAuthorized,
}

impl AuthFailure {
    /// The CONNACK reason code.
    pub fn reason_code(self) -> mqtt_proto::ReasonCode {
        match self {
            Self::BadCredentials => mqtt_proto::ReasonCode::BadUserNameOrPassword,
            Self::NotAuthorized => mqtt_proto::ReasonCode::NotAuthorized,
        }
    }
}

/// The files in force.
#[derive(Debug, Default)]
pub struct AuthData {
    /// The password file, if configured.
    pub passwords: Option<PasswordFile>,
    /// The ACL, if configured (none: everything allowed).
    pub acl: Option<Acl>,
}

/// Authentication and authorization counters.
#[derive(Debug, Default)]
pub struct AuthMetrics {
    /// Credentials accepted.
    pub succeeded: Counter,
    /// Credentials refused (bad user name or password), counted where refused.
    pub bad_credentials: Counter,
    /// Anonymous clients refused.
    pub anonymous_refused: Counter,
    /// ACL denials, by access: read (at delivery), write, subscribe.
    pub denied: [Counter; 3],
}

impl AuthMetrics {
    /// The denial counter of `access`.
    pub fn denied_of(&self, access: Access) -> &Counter {
        let [r, w, s] = &self.denied;
        match access {
            Access::Read => r,
            Access::Write => w,
            Access::Subscribe => s,
        }
    }
}

/// Where the files come from, for [`Auth::reload`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthFiles {
    /// The password file.
    pub password_file: Option<PathBuf>,
    /// The ACL file.
    pub acl_file: Option<PathBuf>,
}

/// Authentication and authorization state of a broker. The files are swapped
/// atomically ([`Auth::install`]): checks in progress finish with the old ones,
/// connections keep running.
#[derive(Debug)]
pub struct Auth {
    data: RwLock<Arc<AuthData>>,
    /// Whether an ACL is installed: the fast path of [`Auth::allows`] (checked on
    /// every publish and delivery) needs no lock without one.
    has_acl: AtomicBool,
    files: Mutex<AuthFiles>,
    /// Password verifications running at once (each is a slow PBKDF2).
    slots: Arc<Semaphore>,
    /// Fingerprints of recently verified passwords by user, so a reconnecting
    /// client does not pay the PBKDF2 again: `HMAC(secret, StoredKey || password)`.
    verified: Mutex<HashMap<String, [u8; 32]>>,
    secret: [u8; 32],
    /// Whether SCRAM-SHA-256 enhanced authentication is offered.
    pub scram: bool,
    /// Counters.
    pub metrics: AuthMetrics,
}

impl Default for Auth {
    fn default() -> Self {
        Self::new(2)
    }
}

const VERIFIED_CACHE_MAX: usize = 10_000;

/// Reads and parses the files.
pub fn load_files(files: &AuthFiles) -> Result<AuthData, String> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("{}: cannot read: {e}", p.display()))
    };
    let passwords = match &files.password_file {
        Some(p) => {
            Some(PasswordFile::parse(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let acl = match &files.acl_file {
        Some(p) => Some(Acl::parse(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    Ok(AuthData { passwords, acl })
}

impl Auth {
    /// No password file, no ACL; at most `verifications` PBKDF2 at once.
    pub fn new(verifications: usize) -> Self {
        Self {
            data: RwLock::new(Arc::new(AuthData::default())),
            has_acl: AtomicBool::new(false),
            files: Mutex::new(AuthFiles::default()),
            slots: Arc::new(Semaphore::new(verifications.max(1))),
            verified: Mutex::new(HashMap::new()),
            secret: rand::random(),
            scram: true,
            metrics: AuthMetrics::default(),
        }
    }

    /// Loads `files` and installs them; they are also what [`Auth::reload`] reads.
    pub fn configure(&self, files: AuthFiles) -> Result<(), String> {
        let data = load_files(&files)?;
        *self.files.lock() = files;
        self.install(data);
        Ok(())
    }

    /// Reads the configured files again and swaps them in; on error the files in
    /// force stay (the error says why).
    pub fn reload(&self) -> Result<(), String> {
        let files = self.files.lock().clone();
        let data = load_files(&files)?;
        self.install(data);
        Ok(())
    }

    /// Swaps in new files atomically.
    pub fn install(&self, data: AuthData) {
        let has_acl = data.acl.is_some();
        *self.data.write() = Arc::new(data);
        self.has_acl.store(has_acl, Ordering::Release);
        self.verified.lock().clear();
    }

    /// The files in force.
    pub fn data(&self) -> Arc<AuthData> {
        self.data.read().clone()
    }

    /// Whether a password file is configured.
    pub fn has_passwords(&self) -> bool {
        self.data.read().passwords.is_some()
    }

    /// The stored credential of `user`.
    pub fn credential(&self, user: &str) -> Option<Credential> {
        self.data
            .read()
            .passwords
            .as_ref()
            .and_then(|p| p.get(user).cloned())
    }

    /// Whether `principal`, as Client Identifier `client_id`, may do `access` on
    /// `topic` (no ACL: yes). Denials are counted; the caller logs them with its
    /// context.
    pub fn allows(
        &self,
        principal: &Principal,
        client_id: &str,
        access: Access,
        topic: &str,
    ) -> bool {
        if !self.has_acl.load(Ordering::Acquire) {
            return true;
        }
        let data = self.data.read();
        let Some(acl) = &data.acl else {
            return true;
        };
        let ok = acl.allows(principal.user.as_deref(), client_id, access, topic);
        if !ok {
            self.metrics.denied_of(access).inc();
        }
        ok
    }

    /// Checks `password` for `user`, synchronously (one PBKDF2 unless recently
    /// verified). Prefer [`Auth::verify_async`] on a reactor thread.
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        let Some(credential) = self.credential(user) else {
            // Same cost as a real check: no timing oracle for user names.
            let _ = Credential::with_salt(password, b"no such user", DEFAULT_ITERATIONS);
            return false;
        };
        let mut input = credential.stored_key.to_vec();
        input.extend_from_slice(password);
        let fingerprint = password::hmac(&self.secret, &input);
        let cached = self
            .verified
            .lock()
            .get(user)
            .is_some_and(|f| password::constant_time_eq(f, &fingerprint));
        let ok = cached || credential.verify(password);
        if ok {
            self.metrics.succeeded.inc();
            let mut v = self.verified.lock();
            if v.len() >= VERIFIED_CACHE_MAX {
                v.clear();
            }
            v.insert(user.to_string(), fingerprint);
        }
        ok
    }

    /// Starts checking `password` for `user` on the blocking pool, at most
    /// `max_concurrent_verifications` at once; `wake` is notified when the answer
    /// is ready. Without a tokio runtime (fuzzing, unit tests) it checks inline.
    pub fn verify_async(
        self: &Arc<Self>,
        user: String,
        password: Vec<u8>,
        wake: Arc<crate::conn::ConnWake>,
    ) -> PendingVerification {
        let (tx, rx) = oneshot::channel();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let this = self.clone();
                let slots = self.slots.clone();
                handle.spawn(async move {
                    let ok = match slots.acquire_owned().await {
                        Ok(permit) => tokio::task::spawn_blocking(move || {
                            let ok = this.verify(&user, &password);
                            drop(permit);
                            ok
                        })
                        .await
                        .unwrap_or(false),
                        Err(_) => false,
                    };
                    let _ = tx.send(ok);
                    wake.notify_one();
                });
            }
            Err(_) => {
                let _ = tx.send(self.verify(&user, &password));
            }
        }
        PendingVerification(rx)
    }
}

/// A password check in progress ([`Auth::verify_async`]).
#[derive(Debug)]
pub struct PendingVerification(oneshot::Receiver<bool>);

impl PendingVerification {
    /// A verification answered on `rx` (the authentication webhook's).
    pub(crate) fn from_receiver(rx: oneshot::Receiver<bool>) -> Self {
        Self(rx)
    }

    /// The answer, once ready.
    pub fn poll(&mut self) -> Option<bool> {
        match self.0.try_recv() {
            Ok(ok) => Some(ok),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(false),
        }
    }
}

/// `realtime-server passwd FILE USER [--password P | --delete]`: returns what was
/// done, for the user.
pub fn passwd_command(args: &crate::config::PasswdArgs) -> Result<String, String> {
    password::valid_user_name(&args.user)?;
    if !(password::MIN_ITERATIONS..=password::MAX_ITERATIONS).contains(&args.iterations) {
        return Err(format!(
            "--iterations must be between {} and {}",
            password::MIN_ITERATIONS,
            password::MAX_ITERATIONS
        ));
    }
    let mut file = match std::fs::read_to_string(&args.file) {
        Ok(text) => {
            PasswordFile::parse(&text).map_err(|e| format!("{}: {e}", args.file.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => PasswordFile::default(),
        Err(e) => return Err(format!("{}: {e}", args.file.display())),
    };
    let message = if args.delete {
        if !file.remove(&args.user) {
            return Err(format!(
                "no user {:?} in {}",
                args.user,
                args.file.display()
            ));
        }
        format!("deleted user {:?}", args.user)
    } else {
        let password = match &args.password {
            Some(p) => p.clone(),
            None => read_password()?,
        };
        if password.is_empty() {
            return Err("the password must not be empty".to_string());
        }
        let existed = file.get(&args.user).is_some();
        file.set(
            &args.user,
            Credential::new(password.as_bytes(), args.iterations),
        );
        format!(
            "{} user {:?}",
            if existed { "updated" } else { "added" },
            args.user
        )
    };
    write_private(&args.file, &file.to_text())
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    Ok(message)
}

fn read_password() -> Result<String, String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Reenter password: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the passwords do not match".to_string());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

/// Writes `text` to `path` atomically (a temporary file renamed over it),
/// readable by the owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("passwd");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}
