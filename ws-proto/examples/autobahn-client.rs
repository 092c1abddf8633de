//! The client side of the Autobahn|Testsuite (fuzzingserver mode): asks for the case
//! count, runs every case by echoing each text and binary message, then asks the server
//! to write its reports.
//!
//! ```sh
//! scripts/autobahn.sh fuzzingserver 9002 &
//! cargo run --release -p ws-proto --example autobahn-client [ws://127.0.0.1:9002] [AGENT]
//! ```

use tokio::net::TcpStream;
use ws_proto::Message;
use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::client::ClientConfig;
use ws_proto::tokio::{WebSocket, WsError};

mod common;
use common::{echo, large_messages};

fn config() -> ClientConfig {
    ClientConfig {
        deflate: Some(DeflateConfig::default()),
        connection: large_messages(),
        ..ClientConfig::default()
    }
}

async fn open(host: &str, target: &str) -> Result<WebSocket<TcpStream>, WsError> {
    let tcp = TcpStream::connect(host).await?;
    let _ = tcp.set_nodelay(true);
    Ok(WebSocket::connect(tcp, host, target, &config()).await?.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), WsError> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "ws-proto".to_owned());
    let host = url
        .strip_prefix("ws://")
        .unwrap_or(&url)
        .trim_end_matches('/')
        .to_owned();

    let mut ws = open(&host, "/getCaseCount").await?;
    let mut count = 0u32;
    while let Some(message) = ws.recv().await {
        if let Message::Text(text) = message? {
            count = text.trim().parse().unwrap_or(0);
        }
    }
    eprintln!("autobahn-client: {count} cases");
    for case in 1..=count {
        match open(&host, &format!("/runCase?case={case}&agent={agent}")).await {
            Ok(mut ws) => echo(&mut ws).await,
            Err(e) => eprintln!("case {case}: {e}"),
        }
    }
    let mut ws = open(&host, &format!("/updateReports?agent={agent}")).await?;
    while ws.recv().await.is_some() {}
    eprintln!("autobahn-client: reports updated");
    Ok(())
}
