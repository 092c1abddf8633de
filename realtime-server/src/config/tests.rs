use super::*;

fn example_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/realtime-server.example.toml")
}

/// The example configuration passes `check-config` and sets every default.
#[test]
fn the_example_config_is_valid_and_equals_the_defaults() {
    let config = Config::load(&example_path()).unwrap();
    assert_eq!(config, Config::default());
}

/// The example documents every key: each key of the effective configuration
/// appears in it (commented out or not).
#[test]
fn the_example_config_mentions_every_key() {
    let text = std::fs::read_to_string(example_path()).unwrap();
    let mut full = Config::default();
    let dummy = TlsListener {
        enabled: true,
        bind: "127.0.0.1:8883".parse().unwrap(),
        cert: "c".into(),
        key: "k".into(),
        client_ca: Some("ca".into()),
        client_auth: ClientAuth::Required,
        allow_anonymous: Some(false),
    };
    full.listeners.mqtt_tls = Some(dummy.clone());
    full.listeners.https = Some(dummy);
    full.auth.password_file = Some("p".into());
    full.auth.acl_file = Some("a".into());
    full.http.allowed_origins = Some(vec!["https://x".into()]);
    full.store.data_dir = Some("d".into());
    full.store.durability = Some(Durability::Sync);
    let table = toml::Table::try_from(&full).unwrap();
    fn keys(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in t {
            match v {
                toml::Value::Table(inner) => keys(&format!("{prefix}{k}."), inner, out),
                _ => out.push(format!("{prefix}{k}")),
            }
        }
    }
    let mut all = Vec::new();
    keys("", &table, &mut all);
    for key in all {
        let leaf = key.rsplit('.').next().unwrap();
        assert!(
            text.contains(&format!("{leaf} =")),
            "the example config does not document `{key}`"
        );
    }
}

#[test]
fn syntax_and_type_errors_give_line_and_column() {
    let err = Config::from_toml_str("[broker]\nmax_inflight = \"many\"\n", "f.toml").unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert_eq!(err.0[0].location, "line 2, column 16", "{err}");
    let err = Config::from_toml_str("[broker]\nmax_inflite = 3\n", "f.toml").unwrap_err();
    assert!(err.0[0].message.contains("unknown field"), "{err}");
    assert_eq!(err.0[0].location, "line 2, column 1");
    let err =
        Config::from_toml_str("[listeners.mqtt]\nbind = \"nowhere\"\n", "f.toml").unwrap_err();
    assert!(err.to_string().starts_with("f.toml: line 2"), "{err}");
}

#[test]
fn invalid_values_are_all_reported_with_their_key() {
    let text = r#"
[listeners.mqtt_tls]
bind = "127.0.0.1:8883"
cert = "/nonexistent/cert.pem"
key = "/nonexistent/key.pem"
client_auth = "required"
[broker]
max_qos = 3
receive_maximum = 0
[store]
durability = "periodic"
"#;
    let errors = Config::from_toml_str(text, "f.toml").unwrap_err().0;
    let keys: Vec<&str> = errors.iter().map(|e| e.location.as_str()).collect();
    for want in [
        "listeners.mqtt_tls.cert",
        "listeners.mqtt_tls.key",
        "listeners.mqtt_tls.client_ca",
        "broker.max_qos",
        "broker.receive_maximum",
        "store.data_dir",
    ] {
        assert!(keys.contains(&want), "missing {want} in {keys:?}");
    }
}

/// The loopback rule: anonymous access by default only where the listener is
/// bound to 127.0.0.0/8 or ::1.
#[test]
fn anonymous_default_follows_the_bind_address() {
    let c = Config::from_toml_str(
        "[listeners.mqtt]\nbind = \"0.0.0.0:1883\"\n[listeners.http]\nbind = \"[::1]:8080\"\n",
        "f",
    )
    .unwrap();
    assert!(!c.listeners.mqtt.allows_anonymous());
    assert!(c.listeners.http.allows_anonymous());
    let c = Config::from_toml_str(
        "[listeners.mqtt]\nbind = \"0.0.0.0:1883\"\nallow_anonymous = true\n",
        "f",
    )
    .unwrap();
    assert!(c.listeners.mqtt.allows_anonymous());
    assert!(c.to_toml().contains("allow_anonymous = true"));
}

/// Flags override the file, and `--set` reaches any key.
#[test]
fn flags_override_the_file() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "[broker]\nmax_inflight = 8\n[listeners.mqtt]\nbind = \"127.0.0.1:1999\"\n",
    )
    .unwrap();
    let cli = Cli::parse_from([
        "realtime-server",
        "--config",
        file.to_str().unwrap(),
        "--mqtt-listen",
        "127.0.0.1:2000",
        "--set",
        "broker.max_inflight=16",
        "--set",
        "http.allowed_origins=[\"https://a.example\"]",
        "--set",
        "log.level=debug",
    ]);
    let c = cli.overrides.resolve().unwrap();
    assert_eq!(c.listeners.mqtt.bind.port(), 2000);
    assert_eq!(c.broker.max_inflight, 16);
    assert_eq!(
        c.http_config().allowed_origins.unwrap(),
        ["https://a.example"]
    );
    assert_eq!(c.log.level, "debug");
    let bad = Cli::parse_from(["realtime-server", "--set", "broker.max_qos=7"]);
    assert!(
        bad.overrides
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("broker.max_qos")
    );
    let bad = Cli::parse_from(["realtime-server", "--set", "broker.nope=1"]);
    assert!(bad.overrides.resolve().is_err());
}

/// `runtime.worker_threads`: 0 (one per core) by default, set by the file or by
/// `--worker-threads` (the flag wins), and bounded.
#[test]
fn worker_threads_come_from_the_file_or_the_flag() {
    use clap::Parser;
    assert_eq!(Config::default().runtime.worker_threads, 0);
    let c = Config::from_toml_str("[runtime]\nworker_threads = 3\n", "f").unwrap();
    assert_eq!(c.runtime.worker_threads, 3);
    assert!(
        c.to_toml().contains("[runtime]\nworker_threads = 3"),
        "{}",
        c.to_toml()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "[runtime]\nworker_threads = 3\n").unwrap();
    let cli = Cli::parse_from([
        "realtime-server",
        "--config",
        file.to_str().unwrap(),
        "--worker-threads",
        "1",
    ]);
    assert_eq!(cli.overrides.resolve().unwrap().runtime.worker_threads, 1);
    let errors = Config::from_toml_str("[runtime]\nworker_threads = 5000\n", "f")
        .unwrap_err()
        .0;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].location, "runtime.worker_threads");
    assert!(errors[0].message.contains("1024"), "{}", errors[0].message);
}

/// `--allowed-origin` repeats and fills `http.allowed_origins`; an origin with a
/// space is refused like in the file.
#[test]
fn allowed_origin_flag_repeats() {
    use clap::Parser;
    let c = Cli::parse_from([
        "realtime-server",
        "--allowed-origin",
        "https://a.example",
        "--allowed-origin",
        "http://localhost:8080",
    ])
    .overrides
    .resolve()
    .unwrap();
    assert_eq!(
        c.http_config().allowed_origins.unwrap(),
        ["https://a.example", "http://localhost:8080"]
    );
    let none = Cli::parse_from(["realtime-server"])
        .overrides
        .resolve()
        .unwrap();
    assert_eq!(none.http_config().allowed_origins, None);
    let bad = Cli::parse_from(["realtime-server", "--allowed-origin", "a b"]);
    assert!(
        bad.overrides
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("http.allowed_origins")
    );
}

/// No arguments: MQTT on 127.0.0.1:1883 and HTTP on 127.0.0.1:8080 (README).
#[test]
fn defaults_match_the_readme() {
    use clap::Parser;
    let c = Cli::parse_from(["realtime-server"])
        .overrides
        .resolve()
        .unwrap();
    assert_eq!(c.listeners.mqtt.bind.to_string(), DEFAULT_MQTT_ADDR);
    assert_eq!(c.listeners.http.bind.to_string(), DEFAULT_HTTP_ADDR);
    assert!(c.listeners.mqtt_tls.is_none() && c.listeners.https.is_none());
    assert_eq!(c.store.effective_durability(), Durability::Memory);
    let text = c.to_toml();
    let back = Config::from_toml_str(&text, "printed").unwrap();
    assert_eq!(
        back.broker_config().max_inflight,
        c.broker_config().max_inflight
    );
}

/// `--tls-cert` and `--tls-key` without any TLS listener enable MQTT over TLS on
/// the MQTT listener's address at port 8883 (issue 7: "default 8883 when
/// certificates are configured"); an explicit TLS listener keeps its address.
#[test]
fn certificates_alone_enable_mqtt_tls_on_8883() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (crt, pem) = (dir.path().join("s.crt"), dir.path().join("s.key"));
    std::fs::write(&crt, cert.pem()).unwrap();
    std::fs::write(&pem, key.serialize_pem()).unwrap();
    let (crt, pem) = (crt.to_str().unwrap(), pem.to_str().unwrap());
    // The certificates with one listener given by `flag`.
    let with_listener = |flag: &str, addr: &str| {
        Cli::parse_from([
            "realtime-server",
            flag,
            addr,
            "--tls-cert",
            crt,
            "--tls-key",
            pem,
        ])
        .overrides
        .resolve()
        .unwrap()
    };
    let c = with_listener("--mqtt-listen", "127.0.0.2:1883");
    let tls = c.listeners.mqtt_tls.unwrap();
    assert_eq!(tls.bind.to_string(), "127.0.0.2:8883");
    assert_eq!(
        (tls.cert.to_str(), tls.key.to_str()),
        (Some(crt), Some(pem))
    );
    assert!(c.listeners.https.is_none());
    let c = with_listener("--https-listen", "127.0.0.1:9443");
    assert!(
        c.listeners.mqtt_tls.is_none(),
        "an explicit TLS listener only"
    );
    assert_eq!(c.listeners.https.unwrap().bind.port(), 9443);
}
