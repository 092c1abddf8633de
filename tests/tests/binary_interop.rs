//! The release binary starts with its CLI flags and serves its health check.
//! Needs the release build (`scripts/test.sh` makes it), hence `interop`.
#![cfg(feature = "interop")]

use realtime_tests::{ServerProcess, http_get};

#[test]
fn release_binary_serves_healthz() {
    let server = ServerProcess::start(&[]);
    assert_eq!(http_get(server.http, "/healthz"), (200, "ok\n".to_string()));
}
