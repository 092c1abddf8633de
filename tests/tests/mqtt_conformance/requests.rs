//! What a 5.0 client asks for in CONNECT: Response Information, Problem
//! Information, enhanced authentication (MQTT 5.0 §3.1.2.11, §4.12).

use bytes::Bytes;
use mqtt_proto::{Auth, Packet, PubResponse, QoS, ReasonCode, UserProperty};
use realtime_server::auth::scram::{SCRAM_SHA_256, client as scram};
use realtime_server::broker::BrokerConfig;
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};
use realtime_tests::security::SecurityFixture;

use crate::common::{V5, drain, expect_error_close, message, pid, subscribe_packet};

/// 5.0 MQTT-3.1.2-28: without Request Response Information, or with it 0, the
/// CONNACK has no Response Information (with 1 it may: this server sends it).
#[tokio::test]
async fn mqtt_3_1_2_28_no_response_information_unless_requested() {
    let server = InProcessServer::start().await;
    for (n, request) in [None, Some(false), Some(true)].into_iter().enumerate() {
        let mut connect = connect_packet(V5, &format!("rri-{n}"));
        connect.properties.request_response_information = request;
        let (_c, ack) = TestClient::connect_with(server.mqtt, connect).await;
        assert_eq!(
            ack.properties.response_information.is_some(),
            request == Some(true),
            "{request:?}"
        );
    }
}

/// An AUTH packet with `code`.
fn auth(code: ReasonCode, method: Option<&str>) -> Packet {
    let mut a = Auth {
        reason_code: code,
        properties: Default::default(),
    };
    a.properties.authentication_method = method.map(|m| m.to_string().into());
    Packet::Auth(a)
}

/// 5.0 MQTT-3.1.2-29: with Request Problem Information 0 the server sends no
/// Reason String and no User Properties on any packet other than PUBLISH,
/// CONNACK and DISCONNECT: not on a SUBACK refusing filters (0x97, 0x8F), an
/// UNSUBACK 0x11, a PUBACK 0x10 or 0x90, a PUBREC, a PUBCOMP 0x92 or a PUBREL 0x92.
#[tokio::test]
async fn mqtt_3_1_2_29_no_reason_string_when_problem_information_is_off() {
    let config = BrokerConfig {
        max_topic_levels: 3,
        max_subscriptions_per_session: 1,
        ..Default::default()
    };
    let server = InProcessServer::start_with(config).await;
    let mut connect = connect_packet(V5, "no-problems");
    connect.properties.request_problem_information = Some(false);
    let (mut c, _) = TestClient::connect_with(server.mqtt, connect).await;
    c.send(&subscribe_packet(
        1,
        &[
            ("a", QoS::AtMostOnce),
            ("b", QoS::AtMostOnce),
            ("a/b/c/d", QoS::AtMostOnce),
        ],
    ))
    .await;
    c.send(&Packet::Unsubscribe(mqtt_proto::Unsubscribe {
        packet_id: pid(2),
        properties: Default::default(),
        filters: vec!["never".into()],
    }))
    .await;
    for (n, topic, qos) in [
        (3, "nobody/here", QoS::AtLeastOnce),
        (4, "a/b/c/d", QoS::AtLeastOnce),
        (5, "nobody/here", QoS::ExactlyOnce),
    ] {
        let mut m = message(topic, b"x", qos);
        m.packet_id = Some(pid(n));
        c.send(&Packet::Publish(m)).await;
    }
    c.send(&Packet::PubRel(PubResponse::new(pid(5)))).await;
    c.send(&Packet::PubRel(PubResponse::new(pid(6)))).await;
    c.send(&Packet::PubRec(PubResponse::new(pid(7)))).await;
    let got = drain(&mut c).await;
    let mut codes = Vec::new();
    for p in &got {
        let (props, code) = match p {
            Packet::SubAck(a) => (&a.properties, a.reason_codes.clone()),
            Packet::UnsubAck(a) => (&a.properties, a.reason_codes.clone()),
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                (&a.properties, vec![a.reason_code])
            }
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(props.reason_string, None, "{p:?}");
        assert_eq!(props.user_properties, Vec::<UserProperty>::new(), "{p:?}");
        codes.extend(code);
    }
    assert_eq!(
        codes,
        [
            ReasonCode::Success,
            ReasonCode::QuotaExceeded,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::NoSubscriptionExisted,
            ReasonCode::NoMatchingSubscribers,
            ReasonCode::TopicNameInvalid,
            ReasonCode::NoMatchingSubscribers,
            ReasonCode::Success,
            ReasonCode::PacketIdentifierNotFound,
            ReasonCode::PacketIdentifierNotFound,
        ],
        "{got:?}"
    );
}

/// 5.0 MQTT-4.12.0-1, MQTT-4.12.0-4: a CONNECT with an authentication method the
/// server does not support is refused with CONNACK 0x8C or 0x87, and the
/// connection is closed.
#[tokio::test]
async fn mqtt_4_12_0_1_unsupported_authentication_method_is_refused() {
    let server = InProcessServer::start().await;
    let mut connect = connect_packet(V5, "x-auth");
    connect.properties.authentication_method = Some("X-NOT-A-METHOD".into());
    connect.properties.authentication_data = Some(Bytes::from_static(b"data"));
    let mut c = TestClient::open(server.mqtt, V5).await;
    c.send(&Packet::Connect(Box::new(connect))).await;
    match c.expect_closed().await.as_slice() {
        [Packet::ConnAck(a)] => assert!(
            matches!(
                a.reason_code,
                ReasonCode::BadAuthenticationMethod | ReasonCode::NotAuthorized
            ),
            "{a:?}"
        ),
        other => panic!("expected CONNACK 0x8C or 0x87, then close, got {other:?}"),
    }
}

/// A server with the password file of [`SecurityFixture`] (users `alice` and
/// `bob`), so that SCRAM-SHA-256 enhanced authentication can succeed.
async fn scram_server(fx: &SecurityFixture) -> InProcessServer {
    let config = fx.config();
    let broker = config.broker_config();
    InProcessServer::start_config(config, broker).await
}

/// An AUTH packet with `code`, the SCRAM-SHA-256 method and `data`.
fn scram_auth(code: ReasonCode, data: String) -> Packet {
    let mut a = Auth {
        reason_code: code,
        properties: Default::default(),
    };
    a.properties.authentication_method = Some(SCRAM_SHA_256.into());
    a.properties.authentication_data = Some(Bytes::from(data));
    Packet::Auth(a)
}

/// The reason code and data of an AUTH packet from the server, which must carry
/// the Authentication Method of the CONNECT (MQTT-4.12.0-5).
fn server_auth(packet: Packet) -> (ReasonCode, String) {
    let Packet::Auth(a) = packet else {
        panic!("expected AUTH, got {packet:?}")
    };
    assert_eq!(
        a.properties.authentication_method.as_deref(),
        Some(SCRAM_SHA_256),
        "MQTT-4.12.0-5: {a:?}"
    );
    let data = a
        .properties
        .into_inner()
        .authentication_data
        .unwrap_or_default();
    (a.reason_code, String::from_utf8(data.to_vec()).unwrap())
}

/// Completes a SCRAM exchange that the client opened (CONNECT, or AUTH 0x19) with
/// `nonce`: the server's challenge must be an AUTH 0x18 (MQTT-4.12.0-2). Returns
/// the server's last packet and the signature a successful end must carry.
async fn scram_exchange(
    c: &mut TestClient,
    user: &str,
    password: &str,
    nonce: &str,
) -> (Packet, String) {
    let (code, server_first) = server_auth(c.recv().await);
    assert_eq!(code, ReasonCode::ContinueAuthentication, "MQTT-4.12.0-2");
    let (last, signature) = scram::last(user, password, nonce, &server_first).unwrap();
    c.send(&scram_auth(ReasonCode::ContinueAuthentication, last))
        .await;
    (c.recv().await, signature)
}

/// Connects `id` as `alice` with SCRAM-SHA-256 and checks the successful CONNACK
/// carries the method (MQTT-4.12.0-5) and the server's signature.
async fn scram_connect(server: &InProcessServer, id: &str) -> TestClient {
    let nonce = format!("{id}-connect");
    let mut connect = connect_packet(V5, id);
    connect.properties.authentication_method = Some(SCRAM_SHA_256.into());
    connect.properties.authentication_data = Some(Bytes::from(scram::first("alice", &nonce)));
    let mut c = TestClient::open(server.mqtt, V5).await;
    c.send(&Packet::Connect(Box::new(connect))).await;
    let (last, signature) = scram_exchange(&mut c, "alice", "wonderland", &nonce).await;
    let Packet::ConnAck(ack) = last else {
        panic!("expected CONNACK, got {last:?}")
    };
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert_eq!(
        ack.properties.authentication_method.as_deref(),
        Some(SCRAM_SHA_256),
        "MQTT-4.12.0-5"
    );
    assert_eq!(
        ack.properties.authentication_data.as_deref(),
        Some(signature.as_bytes())
    );
    c
}

/// Re-authenticates `alice` (AUTH 0x19) with `password`; returns what
/// [`scram_exchange`] returns.
async fn reauthenticate(c: &mut TestClient, password: &str) -> (Packet, String) {
    let nonce = "re-authentication";
    c.send(&scram_auth(
        ReasonCode::ReAuthenticate,
        scram::first("alice", nonce),
    ))
    .await;
    scram_exchange(c, "alice", password, nonce).await
}

/// 5.0 MQTT-4.12.0-2, MQTT-4.12.0-5: in an enhanced authentication (SCRAM-SHA-256,
/// at CONNECT and again at a re-authentication), the server's challenge is an
/// AUTH with Reason Code 0x18, every AUTH it sends carries the CONNECT's
/// Authentication Method, and so does the successful CONNACK.
#[tokio::test]
async fn mqtt_4_12_0_5_authentication_exchange_keeps_the_method() {
    let fx = SecurityFixture::new();
    let server = scram_server(&fx).await;
    let mut c = scram_connect(&server, "scram-method").await;
    let (last, signature) = reauthenticate(&mut c, "wonderland").await;
    assert_eq!(server_auth(last), (ReasonCode::Success, signature));
    c.send(&Packet::PingReq).await;
    assert!(
        matches!(c.recv().await, Packet::PingResp),
        "still connected"
    );
}

/// 5.0 MQTT-4.12.0-6: without an Authentication Method in CONNECT, the CONNACK
/// has none and the server sends no AUTH: an AUTH from the client is answered by
/// DISCONNECT 0x82, not by an AUTH.
#[tokio::test]
async fn mqtt_4_12_0_6_no_auth_without_a_method() {
    let server = InProcessServer::start().await;
    let (mut c, ack) = TestClient::connect_with(server.mqtt, connect_packet(V5, "plain")).await;
    assert_eq!(ack.properties.authentication_method, None);
    assert_eq!(ack.properties.authentication_data, None);
    c.send(&auth(
        ReasonCode::ContinueAuthentication,
        Some("SCRAM-SHA-256"),
    ))
    .await;
    expect_error_close(&mut c, ReasonCode::ProtocolError).await;
}

/// 5.0 MQTT-4.12.1-2: a re-authentication that fails ends the connection, after a
/// DISCONNECT of 0x80 or more: a SCRAM re-authentication with a wrong password,
/// and one asked for on a connection that did not authenticate with a method.
#[tokio::test]
async fn mqtt_4_12_1_2_failed_re_authentication_closes() {
    let fx = SecurityFixture::new();
    let server = scram_server(&fx).await;
    let mut c = scram_connect(&server, "scram-fail").await;
    let (last, _) = reauthenticate(&mut c, "not-the-password").await;
    match last {
        Packet::Disconnect(d) => assert!(d.reason_code.is_error(), "{d:?}"),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert!(c.expect_closed().await.is_empty(), "DISCONNECT is the last");

    let server = InProcessServer::start().await;
    let (mut c, _) = TestClient::connect_with(server.mqtt, connect_packet(V5, "reauth")).await;
    c.send(&auth(ReasonCode::ReAuthenticate, Some(SCRAM_SHA_256)))
        .await;
    let mut got = c.expect_closed().await;
    match got.pop() {
        Some(Packet::Disconnect(d)) => assert!(d.reason_code.is_error(), "{d:?}"),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert!(got.is_empty(), "no AUTH: {got:?}");
}
