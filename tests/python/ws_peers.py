#!/usr/bin/env python3
"""Independent WebSocket peers for the gateway interop tests (tests/tests/gateway_interop.rs).

Python `websockets` on `/echo` and `/ws`, and paho-mqtt over its WebSocket transport on
`/mqtt`. Each subcommand is one short scenario: it prints one JSON event per line on
stdout (flushed), exits 0 when the scenario completed and non-zero (with the reason on
stderr) when something was wrong or did not arrive within TIMEOUT seconds.

  echo URL [--deflate]
      /echo: text, binary, a 300 KB message, a fragmented message and a ping.
      -> {"ev": "echo", "extensions": str|null, "checked": [names...]}
  json-session URL [--deflate]
      /ws alone, on topics py-plain/… or py-deflate/…: welcome, subscribe, QoS 1 publish and its puback, the delivered
      message, an error answer, ping/pong, a binary-frame publish, a message over the
      size limit (close 1009).
      -> {"ev": "session", "extensions": ..., "welcome": {...}, "subscribed": {...},
          "puback": {...}, "message": {...}, "error": {...}, "pong": {...},
          "binary_message": {...}, "close_code": n}
  ws-sub URL FILTER COUNT [--deflate]
      -> {"ev": "ready", "extensions": ...} once subscribed, then COUNT
         {"ev": "message", <the /ws message object>}, then {"ev": "done"}.
  ws-pub URL TOPIC (--text T | --hex H) [--retain] [--qos Q] [--binary-frame] [--deflate]
      Publishes with a JSON request (base64 for --hex) or a binary frame, and returns
      once the server has handled it (puback for QoS 1, a ping's pong otherwise).
      -> {"ev": "published"}
  handshake URL [--origin O] [--subprotocol P]... [--deflate]
      Opens and closes a connection; a refused handshake is reported, not a failure.
      -> {"ev": "handshake", "status": 101|4xx, "subprotocol": str|null,
          "extensions": str|null}
  paho-sub HOST PORT FILTER COUNT [--qos Q] [--mqtt-version 3|5] [--origin O]
      paho-mqtt with transport="websockets" on path /mqtt (paho sends
      `Origin: http://HOST:PORT` unless --origin replaces it).
      -> {"ev": "ready"} after the SUBACK, then COUNT {"ev": "message", "topic",
         "payload_hex", "qos", "retain"}, then {"ev": "done"}.
  paho-pub HOST PORT TOPIC (--text T | --hex H) [--retain] [--qos Q] [--origin O]
      -> {"ev": "published"} once the QoS flow completed.
"""

import argparse
import base64
import json
import os
import sys
import threading

TIMEOUT = 10.0


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def fail(message, code=1):
    """Ends the process at once, from any thread (paho calls back on its own)."""
    sys.stdout.flush()
    sys.stderr.write(f"ws_peers: {message}\n")
    sys.stderr.flush()
    os._exit(code)


def ws_connect(url, deflate, **kwargs):
    from websockets.sync.client import connect

    return connect(
        url,
        compression="deflate" if deflate else None,
        proxy=None,
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        max_size=32 * 1024 * 1024,
        **kwargs,
    )


def extensions_of(ws):
    return ws.response.headers.get("Sec-WebSocket-Extensions")


def recv_json(ws):
    data = ws.recv(timeout=TIMEOUT)
    if not isinstance(data, str):
        fail(f"expected a text message, got {len(data)} bytes of binary")
    return json.loads(data)


def recv_until(ws, kind):
    """The next JSON message of `type` kind (others are a failure)."""
    msg = recv_json(ws)
    if msg.get("type") != kind:
        fail(f"expected {kind!r}, got {msg}")
    return msg


def payload_of(args):
    return bytes.fromhex(args.hex) if args.hex is not None else args.text.encode()


# ---- /echo ----

def cmd_echo(args):
    checked = []
    with ws_connect(args.url, args.deflate) as ws:
        cases = [
            ("text", "héllo, wörld ✓"),
            ("binary", bytes(range(256))),
            ("large", b"realtime " * 40_000),
            ("empty-text", ""),
        ]
        for name, message in cases:
            ws.send(message)
            echoed = ws.recv(timeout=TIMEOUT)
            if echoed != message:
                fail(f"/echo {name}: sent {len(message)} units, got back {echoed[:64]!r}")
            checked.append(name)
        # RFC 6455 §5.4: a fragmented message comes back whole.
        ws.send(["frag", "mented ", "text"])
        if ws.recv(timeout=TIMEOUT) != "fragmented text":
            fail("/echo: fragmented message not reassembled")
        checked.append("fragmented")
        # RFC 6455 §5.5.2: a Ping gets its Pong.
        if not ws.ping(b"are you there").wait(TIMEOUT):
            fail("/echo: no Pong for a Ping")
        checked.append("ping")
        emit(ev="echo", extensions=extensions_of(ws), checked=checked)


# ---- /ws JSON protocol ----

def cmd_json_session(args):
    from websockets.exceptions import ConnectionClosed

    out = {}
    # Its own topics: the test runs a session with and one without compression at once.
    p = "py-deflate" if args.deflate else "py-plain"
    with ws_connect(args.url, args.deflate) as ws:
        out["extensions"] = extensions_of(ws)
        out["welcome"] = recv_until(ws, "welcome")
        ws.send(json.dumps({"type": "subscribe", "id": 1, "filter": f"{p}/+/state"}))
        out["subscribed"] = recv_until(ws, "subscribed")
        ws.send(json.dumps({"type": "publish", "id": "p1", "topic": f"{p}/door/state",
                            "payload": "open ✓", "qos": 1,
                            "user_properties": {"by": "websockets"}}))
        # The puback and the delivery may come in either order.
        got = [recv_json(ws), recv_json(ws)]
        out["puback"] = next((m for m in got if m.get("type") == "puback"), None)
        out["message"] = next((m for m in got if m.get("type") == "message"), None)
        ws.send(json.dumps({"type": "subscribe", "id": 2, "filter": f"{p}/#/bad"}))
        out["error"] = recv_until(ws, "error")
        ws.send(json.dumps({"type": "ping", "id": 3}))
        out["pong"] = recv_until(ws, "pong")
        # A binary frame publishes raw bytes: [flags][topic len][topic][payload].
        topic = f"{p}/raw/state".encode()
        ws.send(bytes([0]) + len(topic).to_bytes(2, "big") + topic + b"\x00\xff\x10")
        out["binary_message"] = recv_until(ws, "message")
        # Over the server's 1 MiB limit on /ws: RFC 6455 §7.4.1 close 1009.
        ws.send("x" * (1024 * 1024 + 1))
        try:
            while True:
                ws.recv(timeout=TIMEOUT)
        except ConnectionClosed:
            pass
        except TimeoutError:
            fail("/ws: no close after an oversized message")
        out["close_code"] = ws.close_code
    emit(ev="session", **out)


def cmd_ws_sub(args):
    with ws_connect(args.url, args.deflate) as ws:
        recv_until(ws, "welcome")
        ws.send(json.dumps({"type": "subscribe", "id": 1, "filter": args.filter}))
        recv_until(ws, "subscribed")
        emit(ev="ready", extensions=extensions_of(ws))
        for _ in range(args.count):
            msg = recv_until(ws, "message")
            msg.pop("type")
            emit(ev="message", **msg)
    emit(ev="done")


def cmd_ws_pub(args):
    payload = payload_of(args)
    with ws_connect(args.url, args.deflate) as ws:
        recv_until(ws, "welcome")
        if args.binary_frame:
            if args.qos != 0:
                fail("binary frames publish at QoS 0 only")
            topic = args.topic.encode()
            flags = 1 if args.retain else 0
            ws.send(bytes([flags]) + len(topic).to_bytes(2, "big") + topic + payload)
        else:
            request = {"type": "publish", "id": 1, "topic": args.topic, "qos": args.qos,
                       "retain": args.retain}
            if args.hex is not None:
                request.update(payload=base64.b64encode(payload).decode(), encoding="base64")
            else:
                request.update(payload=args.text)
            ws.send(json.dumps(request))
            if args.qos == 1:
                recv_until(ws, "puback")
        if args.qos == 0:
            # Requests are handled in order: the pong means the publish was.
            ws.send(json.dumps({"type": "ping", "id": 2}))
            recv_until(ws, "pong")
    emit(ev="published")


def cmd_handshake(args):
    from websockets.exceptions import InvalidStatus

    try:
        with ws_connect(args.url, args.deflate, origin=args.origin,
                        subprotocols=args.subprotocol or None) as ws:
            emit(ev="handshake", status=ws.response.status_code, subprotocol=ws.subprotocol,
                 extensions=extensions_of(ws))
    except InvalidStatus as refused:
        emit(ev="handshake", status=refused.response.status_code, subprotocol=None,
             extensions=None)


# ---- paho-mqtt over WebSocket ----

def paho_client(args):
    import paho.mqtt.client as mqtt

    version = mqtt.MQTTv5 if args.mqtt_version == 5 else mqtt.MQTTv311
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, transport="websockets",
                         protocol=version)
    client.ws_set_options(path="/mqtt",
                          headers={"Origin": args.origin} if args.origin else None)
    connected = threading.Event()
    client.on_connect = lambda c, u, flags, rc, props: (
        connected.set() if not rc.is_failure else fail(f"CONNACK {rc}"))
    return client, connected


def wait_for(event, what):
    if not event.wait(TIMEOUT):
        fail(f"paho over WebSocket: no {what} within {TIMEOUT}s")


def cmd_paho_sub(args):
    client, connected = paho_client(args)
    subscribed = threading.Event()
    received = []
    enough = threading.Event()

    def on_message(c, u, msg):
        received.append(msg)
        emit(ev="message", topic=msg.topic, payload_hex=msg.payload.hex(), qos=msg.qos,
             retain=bool(msg.retain))
        if len(received) >= args.count:
            enough.set()

    client.on_subscribe = lambda c, u, mid, codes, props: subscribed.set()
    client.on_message = on_message
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    wait_for(connected, "CONNACK")
    client.subscribe(args.filter, qos=args.qos)
    wait_for(subscribed, "SUBACK")
    emit(ev="ready")
    wait_for(enough, f"{args.count} messages")
    client.disconnect()
    client.loop_stop()
    emit(ev="done")


def cmd_paho_pub(args):
    client, connected = paho_client(args)
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    wait_for(connected, "CONNACK")
    info = client.publish(args.topic, payload_of(args), qos=args.qos, retain=args.retain)
    info.wait_for_publish(TIMEOUT)
    if not info.is_published():
        fail("paho over WebSocket: publish not completed")
    client.disconnect()
    client.loop_stop()
    emit(ev="published")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def with_payload(p):
        group = p.add_mutually_exclusive_group(required=True)
        group.add_argument("--text")
        group.add_argument("--hex")
        p.add_argument("--retain", action="store_true")
        p.add_argument("--qos", type=int, default=0)

    for name in ("echo", "json-session"):
        p = sub.add_parser(name)
        p.add_argument("url")
        p.add_argument("--deflate", action="store_true")
    p = sub.add_parser("handshake")
    p.add_argument("url")
    p.add_argument("--origin")
    p.add_argument("--subprotocol", action="append")
    p.add_argument("--deflate", action="store_true")
    p = sub.add_parser("ws-sub")
    p.add_argument("url")
    p.add_argument("filter")
    p.add_argument("count", type=int)
    p.add_argument("--deflate", action="store_true")
    p = sub.add_parser("ws-pub")
    p.add_argument("url")
    p.add_argument("topic")
    with_payload(p)
    p.add_argument("--binary-frame", action="store_true")
    p.add_argument("--deflate", action="store_true")
    p = sub.add_parser("paho-sub")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("filter")
    p.add_argument("count", type=int)
    p.add_argument("--qos", type=int, default=0)
    p.add_argument("--mqtt-version", type=int, default=5, choices=[3, 5])
    p.add_argument("--origin")
    p = sub.add_parser("paho-pub")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("topic")
    with_payload(p)
    p.add_argument("--mqtt-version", type=int, default=5, choices=[3, 5])
    p.add_argument("--origin")
    args = parser.parse_args()

    # A hard bound whatever happens: the test never waits on a stuck peer.
    watchdog = threading.Timer(3 * TIMEOUT, fail, args=(f"still running after {3 * TIMEOUT}s", 3))
    watchdog.daemon = True
    watchdog.start()
    {
        "echo": cmd_echo,
        "json-session": cmd_json_session,
        "handshake": cmd_handshake,
        "ws-sub": cmd_ws_sub,
        "ws-pub": cmd_ws_pub,
        "paho-sub": cmd_paho_sub,
        "paho-pub": cmd_paho_pub,
    }[args.command](args)


if __name__ == "__main__":
    main()
