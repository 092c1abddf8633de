#!/usr/bin/env python3
"""A paho-mqtt client driven line by line, for the interop tests.

Usage: paho_driver.py HOST PORT

Reads one JSON command per line on stdin and prints one JSON event per line on
stdout (the same protocol as tests/js/mqttjs_driver.js; the Rust side is
tests/src/peer.rs):

  {"op": "connect", "id": "c1", "version": 5, "clean": true, "keepalive": 60,
   "session_expiry": 0, "receive_maximum": 10, "topic_alias_maximum": 0,
   "request_response_information": false,
   "will": {"topic": "t", "payload": "p", "qos": 1, "retain": false, "props": {...}}}
                                      -> {"ev": "connack", "session_present": b, "reason": n, "props": {...}}
  {"op": "subscribe", "filter": "t", "qos": 1, "no_local": false, "rap": false,
   "rh": 0, "sub_id": 7}             -> {"ev": "suback", "codes": [n, ...]}
  {"op": "unsubscribe", "filter": "t"} -> {"ev": "unsuback", "codes": [n, ...]}
  {"op": "publish", "topic": "t", "payload": "p", "qos": 1, "retain": false,
   "props": {...}}                   -> {"ev": "published", "reason": n}  (after the QoS flow)
  {"op": "disconnect", "reason": 0}  -> {"ev": "disconnected"}
  {"op": "exit"}                     -> the process ends

and, whenever a message arrives:
  {"ev": "message", "topic": "t", "payload": "p", "qos": n, "retain": b, "dup": b, "props": {...}}

Properties use snake_case names: message_expiry_interval, response_topic,
correlation_data (hex), content_type, payload_format_indicator, user_properties
([[k, v], ...]), subscription_identifiers ([n, ...]), topic_alias, will_delay_interval.
"""

import json
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

OUT = threading.Lock()


def emit(**event):
    with OUT:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def code(rc):
    """A reason code (paho ReasonCode, int or MQTTErrorCode) as an int."""
    if rc is None:
        return 0
    if isinstance(rc, ReasonCode):
        return rc.value
    return int(rc)


PROPS = [
    # (driver name, paho attribute)
    ("message_expiry_interval", "MessageExpiryInterval"),
    ("response_topic", "ResponseTopic"),
    ("content_type", "ContentType"),
    ("payload_format_indicator", "PayloadFormatIndicator"),
    ("topic_alias", "TopicAlias"),
    ("will_delay_interval", "WillDelayInterval"),
    ("session_expiry_interval", "SessionExpiryInterval"),
    ("assigned_client_identifier", "AssignedClientIdentifier"),
    ("response_information", "ResponseInformation"),
    ("topic_alias_maximum", "TopicAliasMaximum"),
    ("receive_maximum", "ReceiveMaximum"),
]


def props_to_json(props):
    out = {}
    if props is None:
        return out
    for name, attr in PROPS:
        if hasattr(props, attr):
            out[name] = getattr(props, attr)
    if hasattr(props, "CorrelationData"):
        out["correlation_data"] = bytes(props.CorrelationData).hex()
    if hasattr(props, "UserProperty"):
        out["user_properties"] = [list(kv) for kv in props.UserProperty]
    if hasattr(props, "SubscriptionIdentifier"):
        ids = props.SubscriptionIdentifier
        out["subscription_identifiers"] = ids if isinstance(ids, list) else [ids]
    return out


def props_from_json(packet_type, spec):
    if not spec:
        return None
    props = Properties(packet_type)
    for name, attr in PROPS:
        if name in spec:
            setattr(props, attr, spec[name])
    if "correlation_data" in spec:
        props.CorrelationData = bytes.fromhex(spec["correlation_data"])
    if "user_properties" in spec:
        props.UserProperty = [tuple(kv) for kv in spec["user_properties"]]
    return props


class Driver:
    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.client = None
        self.version = 5
        self.pending_publish = {}

    def on_connect(self, client, userdata, flags, reason_code, properties):
        emit(ev="connack", session_present=bool(flags.session_present),
             reason=code(reason_code), props=props_to_json(properties))

    def on_message(self, client, userdata, msg):
        emit(ev="message", topic=msg.topic, payload=msg.payload.decode("utf-8", "replace"),
             qos=msg.qos, retain=bool(msg.retain), dup=bool(msg.dup),
             props=props_to_json(getattr(msg, "properties", None)))

    def on_subscribe(self, client, userdata, mid, reason_codes, properties):
        emit(ev="suback", codes=[code(rc) for rc in reason_codes])

    def on_unsubscribe(self, client, userdata, mid, reason_codes, properties):
        emit(ev="unsuback", codes=[code(rc) for rc in reason_codes])

    def on_publish(self, client, userdata, mid, reason_code, properties):
        emit(ev="published", reason=code(reason_code))

    def on_disconnect(self, client, userdata, flags, reason_code, properties):
        emit(ev="disconnected", reason=code(reason_code))

    def connect(self, cmd):
        self.version = cmd.get("version", 5)
        protocol = mqtt.MQTTv5 if self.version == 5 else mqtt.MQTTv311
        kwargs = {}
        if self.version != 5:
            kwargs["clean_session"] = cmd.get("clean", True)
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cmd.get("id", ""),
                        protocol=protocol, **kwargs)
        # The tests decide when to reconnect; no automatic reconnection.
        c.reconnect_delay_set(min_delay=120, max_delay=120)
        c.on_connect = self.on_connect
        c.on_message = self.on_message
        c.on_subscribe = self.on_subscribe
        c.on_unsubscribe = self.on_unsubscribe
        c.on_publish = self.on_publish
        c.on_disconnect = self.on_disconnect
        will = cmd.get("will")
        if will:
            c.will_set(will["topic"], will.get("payload", ""), will.get("qos", 0),
                       will.get("retain", False),
                       props_from_json(PacketTypes.WILLMESSAGE, will.get("props")))
        kwargs = {}
        if self.version == 5:
            spec = {}
            for key in ("session_expiry", "receive_maximum", "topic_alias_maximum"):
                if cmd.get(key) is not None:
                    spec[{"session_expiry": "session_expiry_interval"}.get(key, key)] = cmd[key]
            props = props_from_json(PacketTypes.CONNECT, spec) or Properties(PacketTypes.CONNECT)
            if cmd.get("request_response_information"):
                props.RequestResponseInformation = 1
            kwargs["properties"] = props
            kwargs["clean_start"] = cmd.get("clean", True)
        self.client = c
        c.connect(self.host, self.port, keepalive=cmd.get("keepalive", 60), **kwargs)
        c.loop_start()

    def subscribe(self, cmd):
        qos = cmd.get("qos", 0)
        if self.version == 5:
            options = SubscribeOptions(qos=qos, noLocal=cmd.get("no_local", False),
                                       retainAsPublished=cmd.get("rap", False),
                                       retainHandling=cmd.get("rh", 0))
            props = None
            if cmd.get("sub_id"):
                props = Properties(PacketTypes.SUBSCRIBE)
                props.SubscriptionIdentifier = cmd["sub_id"]
            self.client.subscribe(cmd["filter"], options=options, properties=props)
        else:
            self.client.subscribe(cmd["filter"], qos)

    def publish(self, cmd):
        props = None
        if self.version == 5:
            props = props_from_json(PacketTypes.PUBLISH, cmd.get("props"))
        self.client.publish(cmd["topic"], cmd.get("payload", "").encode("utf-8"),
                            cmd.get("qos", 0), cmd.get("retain", False), props)

    def disconnect(self, cmd):
        rc = None
        if self.version == 5 and cmd.get("reason"):
            rc = ReasonCode(PacketTypes.DISCONNECT, identifier=cmd["reason"])
        self.client.disconnect(reasoncode=rc)
        self.client.loop_stop()

    def run(self):
        emit(ev="ready")
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            cmd = json.loads(line)
            op = cmd["op"]
            try:
                if op == "exit":
                    break
                if op == "connect":
                    self.connect(cmd)
                elif op == "subscribe":
                    self.subscribe(cmd)
                elif op == "unsubscribe":
                    self.client.unsubscribe(cmd["filter"])
                elif op == "publish":
                    self.publish(cmd)
                elif op == "disconnect":
                    self.disconnect(cmd)
                else:
                    emit(ev="error", message=f"unknown op {op}")
            except Exception as err:  # reported to the test, which fails on it
                emit(ev="error", message=f"{op}: {err!r}")


if __name__ == "__main__":
    Driver(sys.argv[1], int(sys.argv[2])).run()
