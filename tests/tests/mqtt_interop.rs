//! Interop with real third-party MQTT clients against the release server binary:
//! `mosquitto_pub`/`mosquitto_sub` (Debian mosquitto-clients), paho-mqtt 2.x
//! (PyPI) and MQTT.js 5.x (npm), each in MQTT 3.1.1 and 5.0, publishing to one
//! another through realtime-server. Every test asserts what arrived: payloads,
//! QoS, RETAIN, and the MQTT 5 properties of the feature it checks.
//!
//! The cases of one test run concurrently (one thread per protocol version or
//! library); each test has its own server on free ports.
#![cfg(feature = "interop")]
// Helpers outside #[test] functions too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::time::Duration;

use realtime_tests::ServerProcess;
use realtime_tests::peer::{Driven, Library, MosquittoSub, mosquitto_pub};
use serde_json::{Value, json};

/// How long "nothing more arrives" is watched.
const QUIET: Duration = Duration::from_millis(500);

/// Runs `case` for MQTT 3.1.1 (level 4) and 5.0 (level 5) at the same time.
fn both_versions(case: impl Fn(u8) + Sync) {
    std::thread::scope(|s| {
        let case = &case;
        let handles: Vec<_> = [4u8, 5].map(|v| s.spawn(move || case(v))).into();
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// The `-V` argument of the mosquitto clients.
fn mosq_version(version: u8) -> &'static str {
    if version == 5 { "mqttv5" } else { "mqttv311" }
}

fn payloads(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["payload"].as_str().unwrap())
        .collect()
}

/// MQTT-4.3.1..4.3.3, MQTT-3.8.4-8: QoS 0, 1 and 2 published by paho-mqtt reach
/// MQTT.js and mosquitto_sub (subscribed at QoS 2) at the published QoS, in order
/// (MQTT-4.6.0-5), with the payloads sent.
#[test]
fn qos_0_1_2_from_paho_to_mqttjs_and_mosquitto_sub() {
    let server = ServerProcess::start(&[]);
    both_versions(|v| {
        let topic = format!("interop/qos/paho/{v}");
        let mut js = Driven::start(Library::MqttJs, server.mqtt);
        js.connect(v, &format!("js-sub-{v}"), json!({}));
        assert_eq!(js.subscribe(&topic, 2, json!({})), [2]);
        let mut mosq =
            MosquittoSub::start(server.mqtt, mosq_version(v), &["-t", &topic, "-q", "2"]);
        let mut paho = Driven::start(Library::Paho, server.mqtt);
        paho.connect(v, &format!("paho-pub-{v}"), json!({}));
        for qos in 0..=2u8 {
            paho.publish(&topic, &format!("paho-q{qos}"), qos, false, json!({}));
        }
        let got = js.messages(3);
        assert_eq!(payloads(&got), ["paho-q0", "paho-q1", "paho-q2"]);
        for (qos, m) in got.iter().enumerate() {
            assert_eq!(
                (
                    m["topic"].as_str(),
                    m["qos"].as_u64(),
                    m["retain"].as_bool()
                ),
                (Some(topic.as_str()), Some(qos as u64), Some(false))
            );
            assert_eq!(m["dup"], false);
        }
        let got = mosq.messages(3);
        for (qos, m) in got.iter().enumerate() {
            assert_eq!(
                (m.topic.as_str(), m.qos, m.retain, m.payload.as_str()),
                (
                    topic.as_str(),
                    qos as u8,
                    false,
                    format!("paho-q{qos}").as_str()
                )
            );
        }
        js.expect_no_message(QUIET);
        mosq.expect_no_message(Duration::ZERO);
    });
}

/// MQTT-4.3.1..4.3.3, MQTT-3.8.4-8: QoS 0/1/2 from MQTT.js and mosquitto_pub reach
/// paho-mqtt at min(published QoS, granted QoS 1), payloads intact (binary-safe
/// UTF-8, an empty payload too).
#[test]
fn qos_from_mqttjs_and_mosquitto_pub_to_paho_at_granted_qos() {
    let server = ServerProcess::start(&[]);
    both_versions(|v| {
        let topic = format!("interop/qos/to-paho/{v}");
        let mut paho = Driven::start(Library::Paho, server.mqtt);
        paho.connect(v, &format!("paho-sub-{v}"), json!({}));
        assert_eq!(paho.subscribe(&topic, 1, json!({})), [1]);
        let mut js = Driven::start(Library::MqttJs, server.mqtt);
        js.connect(v, &format!("js-pub-{v}"), json!({}));
        for qos in 0..=2u8 {
            js.publish(&topic, &format!("js-q{qos} ✓"), qos, false, json!({}));
        }
        for qos in 0..=2u8 {
            mosquitto_pub(
                server.mqtt,
                mosq_version(v),
                &[
                    "-t",
                    &topic,
                    "-q",
                    &qos.to_string(),
                    "-m",
                    &format!("mosq-q{qos}"),
                ],
            );
        }
        mosquitto_pub(
            server.mqtt,
            mosq_version(v),
            &["-t", &topic, "-q", "1", "-n"],
        );
        let got = paho.messages(7);
        assert_eq!(
            payloads(&got),
            [
                "js-q0 ✓",
                "js-q1 ✓",
                "js-q2 ✓",
                "mosq-q0",
                "mosq-q1",
                "mosq-q2",
                ""
            ]
        );
        let qos: Vec<u64> = got.iter().map(|m| m["qos"].as_u64().unwrap()).collect();
        assert_eq!(qos, [0, 1, 1, 0, 1, 1, 1], "min(published, granted 1)");
        paho.expect_no_message(QUIET);
    });
}

/// MQTT-3.3.1-5..9: a retained message set by mosquitto_pub is replaced by paho-mqtt,
/// sent with RETAIN 1 to late subscribers of each library (MQTT-3.3.1-9), and deleted
/// by an empty retained message (MQTT-3.3.1-6/7), after which late subscribers get nothing.
#[test]
fn retained_set_replace_delete_across_clients() {
    let server = ServerProcess::start(&[]);
    both_versions(|v| {
        let topic = format!("interop/retained/{v}");
        mosquitto_pub(
            server.mqtt,
            mosq_version(v),
            &["-t", &topic, "-r", "-q", "1", "-m", "first"],
        );
        let mut paho = Driven::start(Library::Paho, server.mqtt);
        paho.connect(v, &format!("paho-ret-{v}"), json!({}));
        paho.publish(&topic, "second", 1, true, json!({}));
        paho.publish(&topic, "live only", 1, false, json!({}));

        let mut js = Driven::start(Library::MqttJs, server.mqtt);
        js.connect(v, &format!("js-ret-{v}"), json!({}));
        js.subscribe(&format!("interop/retained/{v}/#"), 1, json!({}));
        if v == 5 {
            // Retain Handling 2: no retained message for this one (MQTT-3.3.1-11).
            // A filter that does not also match the 3.1.1 case's topic, which runs
            // at the same time: its live messages (the deleting empty one included)
            // would otherwise reach this client too.
            js.subscribe("+/retained/5", 1, json!({"rh": 2}));
        }
        let got = js.messages(1);
        assert_eq!(
            (got[0]["payload"].as_str(), got[0]["retain"].as_bool()),
            (Some("second"), Some(true))
        );
        let mut mosq =
            MosquittoSub::start(server.mqtt, mosq_version(v), &["-t", &topic, "-q", "1"]);
        let m = &mosq.messages(1)[0];
        assert_eq!((m.payload.as_str(), m.retain), ("second", true));

        // Forwarded live: RETAIN 0 without Retain As Published (MQTT-3.3.1-12).
        paho.publish(&topic, "third", 0, true, json!({}));
        let m = &mosq.messages(1)[0];
        assert_eq!((m.payload.as_str(), m.retain), ("third", false));
        let got = js.messages(1);
        assert_eq!(
            (got[0]["payload"].as_str(), got[0]["retain"].as_bool()),
            (Some("third"), Some(false))
        );

        mosquitto_pub(server.mqtt, mosq_version(v), &["-t", &topic, "-r", "-n"]);
        let mut late = Driven::start(Library::Paho, server.mqtt);
        late.connect(v, &format!("paho-late-{v}"), json!({}));
        late.subscribe(&topic, 1, json!({}));
        late.expect_no_message(QUIET);
    });
}

/// MQTT-3.1.2-8: the Will of a client that vanishes (paho, MQTT.js, mosquitto_sub
/// killed) is published with its properties; MQTT-3.1.2-10: not after a normal
/// DISCONNECT; MQTT-3.14.4-3 / v5 0x04: DISCONNECT with Will Message publishes it.
#[test]
fn will_on_abnormal_end_not_on_normal_disconnect() {
    let server = ServerProcess::start(&[]);
    both_versions(|v| {
        let wills = format!("interop/will/{v}");
        let mut watcher = Driven::start(Library::MqttJs, server.mqtt);
        watcher.connect(v, &format!("will-watch-{v}"), json!({}));
        watcher.subscribe(&format!("{wills}/#"), 2, json!({}));

        let will = |who: &str| {
            json!({"will": {"topic": format!("{wills}/{who}"), "payload": format!("{who} died"), "qos": 1,
                   "props": {"content_type": "text/plain", "user_properties": [["why", "test"]]}}})
        };
        let mut paho = Driven::start(Library::Paho, server.mqtt);
        paho.connect(v, &format!("will-paho-{v}"), will("paho"));
        paho.kill();
        let got = watcher.messages(1);
        assert_eq!(
            (
                got[0]["topic"].as_str(),
                got[0]["payload"].as_str(),
                got[0]["qos"].as_u64()
            ),
            (
                Some(format!("{wills}/paho").as_str()),
                Some("paho died"),
                Some(1)
            )
        );
        if v == 5 {
            assert_eq!(
                got[0]["props"]["content_type"], "text/plain",
                "MQTT-3.1.3-10"
            );
            assert_eq!(got[0]["props"]["user_properties"], json!([["why", "test"]]));
        }

        let mut polite = Driven::start(Library::MqttJs, server.mqtt);
        polite.connect(v, &format!("will-polite-{v}"), will("polite"));
        polite.disconnect(0);
        watcher.expect_no_message(QUIET);

        if v == 5 {
            let mut asks = Driven::start(Library::Paho, server.mqtt);
            asks.connect(v, &format!("will-asks-{v}"), will("asks"));
            asks.disconnect(4);
            assert_eq!(watcher.messages(1)[0]["payload"], "asks died");
        }

        let mosq = MosquittoSub::start(
            server.mqtt,
            mosq_version(v),
            &[
                "-t",
                "interop/nothing",
                "--will-topic",
                &format!("{wills}/mosq"),
                "--will-payload",
                "mosq died",
                "--will-qos",
                "2",
            ],
        );
        mosq.kill();
        let got = watcher.messages(1);
        assert_eq!(
            (got[0]["payload"].as_str(), got[0]["qos"].as_u64()),
            (Some("mosq died"), Some(2))
        );
        watcher.expect_no_message(QUIET);
    });
}

/// MQTT-3.1.2-5, MQTT-3.2.2-2, MQTT-4.4.0-1: a persistent session (3.1.1 Clean
/// Session 0, 5.0 Session Expiry Interval) keeps its subscriptions and queues QoS 1/2
/// messages while offline; each library reconnects, sees Session Present 1 and
/// receives what was published meanwhile (QoS 0 is not queued).
#[test]
fn persistent_session_across_reconnect() {
    let server = ServerProcess::start(&[]);
    std::thread::scope(|s| {
        for library in Library::ALL {
            for v in [4u8, 5] {
                let server = &server;
                s.spawn(move || {
                    let id = format!("persist-{}-{v}", library.name());
                    let topic = format!("interop/persist/{}/{v}", library.name());
                    let opts = json!({"clean": false, "session_expiry": 300});
                    let mut c = Driven::start(library, server.mqtt);
                    let ack = c.connect(v, &id, opts.clone());
                    assert_eq!(ack["session_present"], false);
                    c.subscribe(&topic, 2, json!({}));
                    c.disconnect(0);
                    for qos in 0..=2u8 {
                        mosquitto_pub(
                            server.mqtt,
                            mosq_version(v),
                            &[
                                "-t",
                                &topic,
                                "-q",
                                &qos.to_string(),
                                "-m",
                                &format!("offline-q{qos}"),
                            ],
                        );
                    }
                    let mut c = Driven::start(library, server.mqtt);
                    let ack = c.connect(v, &id, opts);
                    assert_eq!(ack["session_present"], true, "{} v{v}", library.name());
                    let got = c.messages(2);
                    assert_eq!(
                        payloads(&got),
                        ["offline-q1", "offline-q2"],
                        "{} v{v}",
                        library.name()
                    );
                    assert_eq!(got[1]["qos"], 2);
                    c.expect_no_message(QUIET);
                });
            }
        }
        // mosquitto_sub with a persistent session (-c).
        for v in [4u8, 5] {
            let server = &server;
            s.spawn(move || {
                let topic = format!("interop/persist/mosq/{v}");
                let id = format!("persist-mosq-{v}");
                let mut args = vec!["-t", topic.as_str(), "-q", "1", "-c", "-i", id.as_str()];
                if v == 5 {
                    args.extend(["-x", "300"]);
                }
                let sub = MosquittoSub::start(server.mqtt, mosq_version(v), &args);
                sub.kill();
                mosquitto_pub(
                    server.mqtt,
                    mosq_version(v),
                    &["-t", &topic, "-q", "1", "-m", "while away"],
                );
                let mut sub = MosquittoSub::start(server.mqtt, mosq_version(v), &args);
                let m = &sub.messages(1)[0];
                assert_eq!((m.payload.as_str(), m.qos), ("while away", 1));
            });
        }
    });
}

/// MQTT 5.0 §4.8.2: a shared subscription `$share/{group}/...` held by paho-mqtt,
/// MQTT.js and mosquitto_sub gets each message exactly once across the group; a
/// plain subscriber alongside gets every message.
#[test]
fn shared_subscription_across_libraries() {
    let server = ServerProcess::start(&[]);
    let filter = "$share/workers/interop/jobs/+";
    let mut paho = Driven::start(Library::Paho, server.mqtt);
    paho.connect(5, "shared-paho", json!({}));
    paho.subscribe(filter, 1, json!({}));
    let mut js = Driven::start(Library::MqttJs, server.mqtt);
    js.connect(5, "shared-js", json!({}));
    js.subscribe(filter, 1, json!({}));
    let mut mosq = MosquittoSub::start(server.mqtt, "mqttv5", &["-t", filter, "-q", "1"]);
    let mut all = Driven::start(Library::Paho, server.mqtt);
    all.connect(4, "shared-watcher", json!({}));
    all.subscribe("interop/jobs/+", 1, json!({}));
    const N: usize = 30;
    let mut publisher = Driven::start(Library::MqttJs, server.mqtt);
    publisher.connect(5, "shared-pub", json!({}));
    for i in 0..N {
        publisher.publish(
            &format!("interop/jobs/{i}"),
            &format!("job {i}"),
            1,
            false,
            json!({}),
        );
    }
    assert_eq!(all.messages(N).len(), N);
    // Every job exactly once across the three members, each member taking some.
    let mut got: Vec<String> = Vec::new();
    let mut per_member = [0usize; 3];
    loop {
        let before = got.len();
        for (i, m) in [&mut paho, &mut js].into_iter().enumerate() {
            let batch = m.drain(QUIET);
            per_member[i] += batch.len();
            got.extend(
                batch
                    .iter()
                    .map(|m| m["payload"].as_str().unwrap().to_string()),
            );
        }
        let batch = mosq.drain(QUIET);
        per_member[2] += batch.len();
        got.extend(batch.into_iter().map(|m| m.payload));
        if got.len() == before {
            break;
        }
    }
    got.sort();
    let mut want: Vec<String> = (0..N).map(|i| format!("job {i}")).collect();
    want.sort();
    assert_eq!(got, want, "each message once across the group");
    assert!(
        per_member.iter().all(|&n| n > 0),
        "spread across the group: {per_member:?}"
    );
}

/// MQTT-3.3.2-12, MQTT 5.0 §3.3.2.3.4: paho-mqtt sets a Topic Alias and then publishes
/// with an empty topic and the alias; the server resolves it for mosquitto_sub and
/// for MQTT.js, and uses its own aliases towards MQTT.js (which allows 5) only within
/// that maximum (MQTT-3.3.2-11), which MQTT.js resolves back to the topic.
#[test]
fn topic_alias_from_paho_resolved_for_subscribers() {
    let server = ServerProcess::start(&[]);
    let topic = "interop/alias/a/rather/long/topic/name";
    let mut js = Driven::start(Library::MqttJs, server.mqtt);
    js.connect(5, "alias-js", json!({"topic_alias_maximum": 5}));
    js.subscribe("interop/alias/#", 1, json!({}));
    let mut mosq =
        MosquittoSub::start(server.mqtt, "mqttv5", &["-t", "interop/alias/#", "-q", "1"]);
    let mut paho = Driven::start(Library::Paho, server.mqtt);
    let ack = paho.connect(5, "alias-paho", json!({}));
    let max = ack["props"]["topic_alias_maximum"]
        .as_u64()
        .expect("Topic Alias Maximum in CONNACK");
    assert!(max >= 1);
    paho.publish(topic, "sets alias", 1, false, json!({"topic_alias": 1}));
    paho.publish("", "uses alias", 1, false, json!({"topic_alias": 1}));
    paho.publish("", "uses alias again", 0, false, json!({"topic_alias": 1}));
    let got = js.messages(3);
    assert_eq!(
        payloads(&got),
        ["sets alias", "uses alias", "uses alias again"]
    );
    for m in &got {
        assert_eq!(m["topic"], topic, "resolved topic");
        let alias = m["props"]["topic_alias"].as_u64();
        assert!(
            alias.is_some_and(|a| (1..=5).contains(&a)),
            "server alias within the client's maximum: {m}"
        );
    }
    for m in mosq.messages(3) {
        assert_eq!(m.topic, topic);
    }
}

/// MQTT-3.3.2-5/6: a message whose Message Expiry Interval passes while its
/// subscriber (MQTT.js, persistent session) is offline is not delivered; the other
/// arrives with the interval reduced by the time it waited. mosquitto_sub sees the
/// interval of a live message (mosquitto_pub `-D publish message-expiry-interval`).
#[test]
fn message_expiry_while_offline() {
    let server = ServerProcess::start(&[]);
    let opts = json!({"clean": false, "session_expiry": 300});
    let mut js = Driven::start(Library::MqttJs, server.mqtt);
    js.connect(5, "expiry-js", opts.clone());
    js.subscribe("interop/expiry/#", 1, json!({}));
    js.disconnect(0);
    let mut mosq = MosquittoSub::start(
        server.mqtt,
        "mqttv5",
        &["-t", "interop/expiry/#", "-q", "1"],
    );
    let mut paho = Driven::start(Library::Paho, server.mqtt);
    paho.connect(5, "expiry-paho", json!({}));
    paho.publish(
        "interop/expiry/short",
        "short",
        1,
        false,
        json!({"message_expiry_interval": 1}),
    );
    paho.publish(
        "interop/expiry/long",
        "long",
        1,
        false,
        json!({"message_expiry_interval": 100}),
    );
    mosquitto_pub(
        server.mqtt,
        "mqttv5",
        &[
            "-t",
            "interop/expiry/mosq",
            "-q",
            "1",
            "-m",
            "mosq",
            "-D",
            "publish",
            "message-expiry-interval",
            "50",
        ],
    );
    let live = mosq.messages(3);
    assert_eq!(
        live.iter().map(|m| m.expiry).collect::<Vec<_>>(),
        [Some(1), Some(100), Some(50)]
    );
    std::thread::sleep(Duration::from_millis(2200));
    let mut js = Driven::start(Library::MqttJs, server.mqtt);
    let ack = js.connect(5, "expiry-js", opts);
    assert_eq!(ack["session_present"], true);
    let got = js.messages(2);
    assert_eq!(
        payloads(&got),
        ["long", "mosq"],
        "the expired message is dropped"
    );
    let left = got[0]["props"]["message_expiry_interval"].as_u64().unwrap();
    assert!(
        (90..100).contains(&left),
        "remaining interval {left} (MQTT-3.3.2-6)"
    );
    let left = got[1]["props"]["message_expiry_interval"].as_u64().unwrap();
    assert!((40..50).contains(&left), "remaining interval {left}");
    js.expect_no_message(QUIET);
}

/// MQTT-3.8.3-3: with No Local, neither paho-mqtt nor MQTT.js gets its own messages
/// back, but each gets the other's; without it a client gets its own.
#[test]
fn no_local_for_paho_and_mqttjs() {
    let server = ServerProcess::start(&[]);
    let mut clients: Vec<Driven> = Library::ALL
        .into_iter()
        .map(|lib| {
            let mut c = Driven::start(lib, server.mqtt);
            c.connect(5, &format!("nl-{}", lib.name()), json!({}));
            c.subscribe("interop/nl/#", 1, json!({"no_local": true}));
            c.subscribe("interop/echo/#", 1, json!({}));
            c
        })
        .collect();
    for c in &mut clients {
        let lib = c.library.name();
        c.publish(&format!("interop/nl/{lib}"), lib, 1, false, json!({}));
        c.publish(&format!("interop/echo/{lib}"), lib, 0, false, json!({}));
    }
    let [paho, js] = &mut clients[..] else {
        unreachable!()
    };
    let mut got = paho.messages(3);
    got.sort_by_key(|m| m["topic"].to_string());
    let topics: Vec<&str> = got.iter().map(|m| m["topic"].as_str().unwrap()).collect();
    assert_eq!(
        topics,
        [
            "interop/echo/mqttjs",
            "interop/echo/paho",
            "interop/nl/mqttjs"
        ]
    );
    let mut got = js.messages(3);
    got.sort_by_key(|m| m["topic"].to_string());
    let topics: Vec<&str> = got.iter().map(|m| m["topic"].as_str().unwrap()).collect();
    assert_eq!(
        topics,
        [
            "interop/echo/mqttjs",
            "interop/echo/paho",
            "interop/nl/paho"
        ]
    );
    paho.expect_no_message(QUIET);
    js.expect_no_message(Duration::ZERO);
}

/// MQTT 5.0 §4.10 request/response: paho-mqtt asks for Response Information
/// (MQTT-3.2.2-? Response Information in CONNACK), sends a request with Response
/// Topic, Correlation Data, Content Type, Payload Format Indicator and User
/// Properties; the MQTT.js responder receives them unaltered (MQTT-3.3.2-4,
/// -15..-20) and answers on the Response Topic with the Correlation Data, which the
/// requester receives. mosquitto_pub sends a request that mosquitto_sub sees with
/// its properties.
#[test]
fn request_response_across_libraries() {
    let server = ServerProcess::start(&[]);
    let mut responder = Driven::start(Library::MqttJs, server.mqtt);
    responder.connect(5, "rr-responder", json!({}));
    responder.subscribe("interop/rr/service", 1, json!({}));
    let mut requester = Driven::start(Library::Paho, server.mqtt);
    let ack = requester.connect(
        5,
        "rr-requester",
        json!({"request_response_information": true}),
    );
    let base = ack["props"]["response_information"]
        .as_str()
        .expect("Response Information requested")
        .to_string();
    let reply_to = format!("{base}/rr");
    requester.subscribe(&reply_to, 1, json!({}));
    let props = json!({
        "response_topic": reply_to, "correlation_data": "00ff10",
        "content_type": "application/json", "payload_format_indicator": 1,
        "user_properties": [["k", "1"], ["trace", "abc"]],
    });
    requester.publish("interop/rr/service", "{\"q\":1}", 1, false, props.clone());
    let req = &responder.messages(1)[0];
    for key in [
        "response_topic",
        "correlation_data",
        "content_type",
        "payload_format_indicator",
        "user_properties",
    ] {
        assert_eq!(req["props"][key], props[key], "{key} passed through");
    }
    responder.publish(
        req["props"]["response_topic"].as_str().unwrap(),
        "{\"a\":2}",
        1,
        false,
        json!({"correlation_data": req["props"]["correlation_data"]}),
    );
    let resp = &requester.messages(1)[0];
    assert_eq!(
        (resp["topic"].as_str(), resp["payload"].as_str()),
        (Some(reply_to.as_str()), Some("{\"a\":2}"))
    );
    assert_eq!(resp["props"]["correlation_data"], "00ff10");

    let mut mosq =
        MosquittoSub::start(server.mqtt, "mqttv5", &["-t", "interop/rr/mosq", "-q", "1"]);
    mosquitto_pub(
        server.mqtt,
        "mqttv5",
        &[
            "-t",
            "interop/rr/mosq",
            "-q",
            "1",
            "-m",
            "ping",
            "-D",
            "publish",
            "response-topic",
            "interop/rr/back",
            "-D",
            "publish",
            "correlation-data",
            "c0ffee",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "user-property",
            "who",
            "mosq",
        ],
    );
    let m = &mosq.messages(1)[0];
    assert_eq!(
        (
            m.response_topic.as_str(),
            m.correlation.as_str(),
            m.content_type.as_str(),
            m.payload.as_str()
        ),
        ("interop/rr/back", "c0ffee", "text/plain", "ping")
    );
    assert!(
        m.user_properties.contains("who") && m.user_properties.contains("mosq"),
        "{}",
        m.user_properties
    );
}

/// MQTT 3.1 (`MQIsdp`, level 3) clients on the same port: mosquitto_sub and
/// mosquitto_pub with `-V mqttv31` exchange QoS 0/1/2 and retained messages with a
/// 5.0 client.
#[test]
fn mqtt_3_1_clients_with_mosquitto_tools() {
    let server = ServerProcess::start(&[]);
    let topic = "interop/v31";
    mosquitto_pub(
        server.mqtt,
        "mqttv31",
        &[
            "-t",
            topic,
            "-q",
            "1",
            "-r",
            "-m",
            "retained by 3.1",
            "-i",
            "pub31",
        ],
    );
    let mut sub = MosquittoSub::start(
        server.mqtt,
        "mqttv31",
        &["-t", topic, "-q", "2", "-i", "sub31"],
    );
    let m = &sub.messages(1)[0];
    assert_eq!((m.payload.as_str(), m.retain), ("retained by 3.1", true));
    let mut js = Driven::start(Library::MqttJs, server.mqtt);
    js.connect(5, "js-v31", json!({}));
    js.subscribe(topic, 2, json!({}));
    assert_eq!(js.messages(1)[0]["payload"], "retained by 3.1");
    for qos in 0..=2u8 {
        mosquitto_pub(
            server.mqtt,
            "mqttv31",
            &[
                "-t",
                topic,
                "-q",
                &qos.to_string(),
                "-m",
                &format!("v31-q{qos}"),
                "-i",
                "pub31",
            ],
        );
    }
    js.publish(topic, "from v5", 2, false, json!({}));
    let got: Vec<(String, u8)> = sub
        .messages(4)
        .into_iter()
        .map(|m| (m.payload, m.qos))
        .collect();
    assert_eq!(
        got,
        [
            ("v31-q0".into(), 0),
            ("v31-q1".into(), 1),
            ("v31-q2".into(), 2),
            ("from v5".into(), 2)
        ]
    );
    assert_eq!(
        payloads(&js.messages(4)),
        ["v31-q0", "v31-q1", "v31-q2", "from v5"]
    );
}
