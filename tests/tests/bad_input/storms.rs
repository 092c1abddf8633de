//! Connection storms: more connections from one address than
//! `limits.max_connections_per_ip` allows, over MQTT and HTTP, and a burst of
//! connections dropped at once (nothing may leak).

use std::time::Duration;

use mqtt_proto::ProtocolVersion;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::limits::PER_IP;
use super::observe::{WAIT, http_status};
use super::scenarios::check;
use super::wire::{self, connect_from};
use super::{Ctx, Ev, Outcome};

/// Connects from `ip` and sends CONNECT; the CONNACK code, or `None` if the
/// connection was closed without a byte.
async fn storm_client(ctx: &Ctx, ip: [u8; 4], id: String) -> (Option<TcpStream>, Option<u8>) {
    let Ok(mut s) = connect_from(ip, ctx.mqtt).await else {
        return (None, None);
    };
    let _ = s
        .write_all(&wire::connect(ProtocolVersion::V5, &id, 60))
        .await;
    let mut buf = [0u8; 64];
    match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
        Ok(Ok(n)) if n >= 4 && buf[0] == 0x20 => (Some(s), Some(buf[3])),
        _ => (None, None),
    }
}

pub(crate) fn storm_mqtt(ctx: Ctx) -> Outcome {
    Box::pin(async move {
        let ip = [127, 0, 0, 2];
        let refused_before = ctx.broker.metrics.refused_max_connections_per_ip.get();
        let mut kept = Vec::new();
        let mut accepted = 0;
        for i in 0..PER_IP {
            if let (Some(s), Some(0)) = storm_client(&ctx, ip, format!("storm-{i}")).await {
                accepted += 1;
                kept.push(s);
            }
        }
        let extra = (0..20).map(|i| {
            let ctx = ctx.clone();
            async move { storm_client(&ctx, ip, format!("storm-x{i}")).await }
        });
        let extra = futures_join(extra).await;
        let silent = extra
            .iter()
            .filter(|(s, code)| s.is_none() && code.is_none())
            .count();
        let refused = ctx.broker.metrics.refused_max_connections_per_ip.get() - refused_before;
        let mut evs = vec![
            check(
                accepted == PER_IP,
                "the first 40 get CONNACK 0x00",
                format!("{accepted} accepted"),
            ),
            check(
                silent == 20 && refused == 20,
                "the other 20 are closed without a byte and counted",
                format!("{silent} closed silently, {refused} counted"),
            ),
        ];
        drop(kept);
        let mut again = false;
        for _ in 0..50 {
            if let (Some(_), Some(0)) = storm_client(&ctx, ip, "storm-again".into()).await {
                again = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        evs.push(check(
            again,
            "a connection is accepted again once they have left",
            "still refused".into(),
        ));
        evs
    })
}

/// Runs futures concurrently, in order.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

pub(crate) fn storm_http(ctx: Ctx) -> Outcome {
    Box::pin(async move {
        let ip = [127, 0, 0, 3];
        let mut open = Vec::new();
        for _ in 0..PER_IP {
            let Ok(mut s) = connect_from(ip, ctx.http).await else {
                break;
            };
            let _ = s
                .write_all(wire::upgrade_request(ctx.http, "/echo", "").as_bytes())
                .await;
            let mut head = [0u8; 12];
            if s.read_exact(&mut head).await.is_ok() && head.starts_with(b"HTTP/1.1 101") {
                open.push(s);
            }
        }
        let mut evs = vec![check(
            open.len() == PER_IP,
            "40 WebSockets open",
            format!("{} open", open.len()),
        )];
        match connect_from(ip, ctx.http).await {
            Ok(mut s) => {
                let _ = s
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await;
                evs.push(http_status(&mut s).await);
            }
            Err(e) => evs.push(Ev::Unexpected(e.to_string())),
        }
        drop(open);
        evs
    })
}

pub(crate) fn churn(ctx: Ctx) -> Outcome {
    Box::pin(async move {
        let gauge = || ctx.broker.metrics.connections_mqtt_tcp.get();
        let before = gauge();
        let connect = wire::connect(ProtocolVersion::V5, "churn", 60);
        for i in 0..300usize {
            if let Ok(mut s) = TcpStream::connect(ctx.mqtt).await {
                let part = if i % 2 == 0 {
                    &connect[..]
                } else {
                    &connect[..5]
                };
                let _ = s.write_all(part).await;
            }
        }
        let mut settled = false;
        for _ in 0..100 {
            if gauge() <= before {
                settled = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        vec![check(
            settled,
            "the connection gauge returns to where it was",
            format!("{before} before, {} after", gauge()),
        )]
    })
}
