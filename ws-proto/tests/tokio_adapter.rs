//! The tokio adapter over in-memory duplex streams and loopback TCP.
#![cfg(feature = "tokio")]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
use ws_proto::deflate::DeflateConfig;
use ws_proto::frame::{OpCode, OutFrame};
use ws_proto::handshake::client::ClientConfig;
use ws_proto::handshake::server::ServerConfig;
use ws_proto::http::{HeadLimits, Parsed, parse_request};
use ws_proto::tokio::{WebSocket, WsError};
use ws_proto::{CloseCode, Message};

fn deflate_server() -> ServerConfig {
    ServerConfig {
        deflate: Some(DeflateConfig::default()),
        subprotocols: vec!["chat".into()],
        ..ServerConfig::default()
    }
}

fn deflate_client() -> ClientConfig {
    ClientConfig {
        deflate: Some(DeflateConfig::default()),
        subprotocols: vec!["other".into(), "chat".into()],
        ..ClientConfig::default()
    }
}

/// RFC 6455 §4 + RFC 7692: connect and accept negotiate a subprotocol and compression;
/// messages echo; the close handshake ends both sides with `None`.
#[tokio::test]
async fn connect_accept_echo_and_close() {
    let (a, b) = duplex(1 << 16);
    let server = tokio::spawn(async move {
        let mut ws = WebSocket::accept(a, &deflate_server()).await.unwrap();
        assert_eq!(ws.subprotocol(), Some("chat"));
        while let Some(m) = ws.recv().await {
            if let m @ (Message::Text(_) | Message::Binary(_)) = m.unwrap() {
                ws.send(m).await.unwrap();
            }
        }
    });
    let (mut ws, negotiated) = WebSocket::connect(b, "localhost", "/chat", &deflate_client())
        .await
        .unwrap();
    assert_eq!(negotiated.subprotocol.as_deref(), Some("chat"));
    assert!(negotiated.deflate.is_some());
    for i in 0..20 {
        let text = format!("message {i} ").repeat(i * 10);
        ws.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
    }
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    let Some(Ok(Message::Close(Some(frame)))) = ws.recv().await else {
        panic!()
    };
    assert_eq!(frame.code, CloseCode::NORMAL);
    assert!(ws.recv().await.is_none());
    server.await.unwrap();
}

/// The server parses the head itself (routing), then hands the stream and the bytes it
/// read past the head to the adapter: a frame sent in the same packet as the request is
/// not lost.
#[tokio::test]
async fn accept_with_request_keeps_leftover_frames() {
    let (mut client, server) = duplex(1 << 16);
    let mut request =
        b"GET /ws?room=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            .to_vec();
    request.extend_from_slice(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i']); // masked "hi" (zero key)
    client.write_all(&request).await.unwrap();

    let task = tokio::spawn(async move {
        let mut server = server;
        let mut buf = BytesMut::with_capacity(4096);
        let (head, used) = loop {
            server.read_buf(&mut buf).await.unwrap();
            if let Parsed::Complete(head, used) =
                parse_request(&buf, &HeadLimits::default()).unwrap()
            {
                break (head, used);
            }
        };
        assert_eq!(
            (head.method.as_str(), head.path(), head.query()),
            ("GET", "/ws", Some("room=1"))
        );
        let leftover = buf.split_off(used);
        let mut ws =
            WebSocket::accept_with_request(server, &head, leftover, &ServerConfig::default())
                .await
                .unwrap();
        ws.recv().await.unwrap().unwrap()
    });
    let mut response = vec![0u8; 129];
    client.read_exact(&mut response).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    assert_eq!(task.await.unwrap(), Message::text("hi"));
}

/// RFC 6455 §4.2.2: a bad request gets the HTTP rejection bytes and the error its status.
#[tokio::test]
async fn rejected_request_gets_426() {
    let (mut client, server) = duplex(1 << 16);
    client
        .write_all(
            b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n",
        )
        .await
        .unwrap();
    let err = WebSocket::accept(server, &ServerConfig::default())
        .await
        .unwrap_err();
    let WsError::Protocol(err) = err else {
        panic!()
    };
    assert_eq!(err.http_status(), Some(426));
    let mut response = String::new();
    client.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    assert!(response.contains("Sec-WebSocket-Version: 13\r\n"));
}

/// Split halves work from two tasks at once: one task streams out while the other reads.
#[tokio::test]
async fn split_reader_and_writer_in_two_tasks() {
    let (a, b) = duplex(4096);
    let server = tokio::spawn(async move {
        let ws = WebSocket::accept(a, &ServerConfig::default())
            .await
            .unwrap();
        let (mut reader, writer) = ws.split();
        let sending = tokio::spawn(async move {
            for i in 0..200u32 {
                writer
                    .send(Message::binary(i.to_be_bytes().to_vec()))
                    .await
                    .unwrap();
            }
            writer
        });
        let mut received = 0;
        while let Some(Ok(Message::Text(_))) = reader.recv().await {
            received += 1;
            if received == 200 {
                break;
            }
        }
        let writer = sending.await.unwrap();
        writer.close(CloseCode::NORMAL, "").await.unwrap();
        while reader.recv().await.is_some() {}
        received
    });
    let (ws, _) = WebSocket::connect(b, "h", "/", &ClientConfig::default())
        .await
        .unwrap();
    let (mut reader, writer) = ws.split();
    let client_send = tokio::spawn(async move {
        for _ in 0..200 {
            writer.send(Message::text("x")).await.unwrap();
        }
    });
    let mut expected = 0u32;
    while let Some(m) = reader.recv().await {
        match m.unwrap() {
            Message::Binary(b) => {
                assert_eq!(&b[..], &expected.to_be_bytes());
                expected += 1;
            }
            Message::Close(_) => {}
            other => panic!("{other:?}"),
        }
    }
    client_send.await.unwrap();
    assert_eq!(expected, 200);
    assert_eq!(server.await.unwrap(), 200);
}

/// Broadcast: one shared frame written to many connections; the payload is not copied
/// per connection. A compressing connection refuses shared frames.
#[tokio::test]
async fn broadcast_shared_frame() {
    let frame = OutFrame::unmasked(OpCode::Text, Bytes::from_static(b"to everyone"));
    let mut clients = Vec::new();
    let mut writers = Vec::new();
    for i in 0..3 {
        let (a, b) = duplex(1 << 16);
        let compress = i == 2;
        let config = if compress {
            deflate_server()
        } else {
            ServerConfig::default()
        };
        let server = tokio::spawn(async move { WebSocket::accept(a, &config).await.unwrap() });
        let client_config = if compress {
            deflate_client()
        } else {
            ClientConfig::default()
        };
        let (client, _) = WebSocket::connect(b, "h", "/", &client_config)
            .await
            .unwrap();
        let (_reader, writer) = server.await.unwrap().split();
        writers.push((writer, _reader));
        clients.push(client);
    }
    for (writer, _) in &writers {
        if writer.compresses().await {
            assert!(writer.send_frame(&frame).await.is_err());
            writer.send(Message::text("to everyone")).await.unwrap();
        } else {
            writer.send_frame(&frame).await.unwrap();
        }
    }
    for client in &mut clients {
        assert_eq!(
            client.recv().await.unwrap().unwrap(),
            Message::text("to everyone")
        );
    }
}

/// Back-pressure: `send` does not complete while the peer does not read and the stream
/// is full; it completes once the peer reads.
#[tokio::test]
async fn send_waits_for_the_peer_back_pressure() {
    let (a, mut b) = duplex(1024);
    let mut ws = WebSocket::from_raw(
        a,
        ws_proto::Role::Server,
        Default::default(),
        None,
        BytesMut::new(),
    );
    let mut send = pin!(ws.send(Message::binary(vec![1u8; 64 * 1024])));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        send.as_mut().poll(&mut cx).is_pending(),
        "nobody reads: the send must wait"
    );
    let reader = tokio::spawn(async move {
        let mut sink = vec![0u8; 64 * 1024 + 10];
        b.read_exact(&mut sink).await.unwrap();
        sink
    });
    send.await.unwrap();
    let got = reader.await.unwrap();
    assert_eq!(&got[..2], &[0x82, 127]);
    assert!(got[10..].iter().all(|&b| b == 1));
}
