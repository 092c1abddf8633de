//! An echo server: every text and binary message comes back to its sender, with
//! permessage-deflate accepted and messages up to 64 MiB (the Autobahn fuzzingclient
//! target: `scripts/autobahn.sh fuzzingclient ws://127.0.0.1:9001`).
//!
//! ```sh
//! cargo run --release -p ws-proto --example echo-server [ADDR]   # default 127.0.0.1:9001
//! ```

use std::sync::Arc;

use tokio::net::TcpListener;
use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::server::ServerConfig;
use ws_proto::tokio::WebSocket;

mod common;
use common::{echo, large_messages};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("echo-server listening on ws://{}", listener.local_addr()?);
    let config = Arc::new(ServerConfig {
        deflate: Some(DeflateConfig::default()),
        connection: large_messages(),
        ..ServerConfig::default()
    });
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let config = Arc::clone(&config);
        tokio::spawn(async move {
            let Ok(mut ws) = WebSocket::accept(tcp, &config).await else {
                return;
            };
            echo(&mut ws).await;
        });
    }
}
