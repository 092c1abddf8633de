#!/usr/bin/env node
// An MQTT.js client driven line by line, for the interop tests.
//
// Usage: node mqttjs_driver.js HOST PORT   (NODE_PATH must reach tests/js/node_modules)
//
// The protocol (one JSON command per line on stdin, one JSON event per line on
// stdout) is the one of tests/python/paho_driver.py, whose docstring describes it;
// the Rust side is tests/src/peer.rs.
'use strict';

const mqtt = require('mqtt');
const readline = require('readline');

const [host, port] = process.argv.slice(2);
let client = null;
let version = 5;

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

// Driver property names -> MQTT.js property names.
const PROPS = {
  message_expiry_interval: 'messageExpiryInterval',
  response_topic: 'responseTopic',
  content_type: 'contentType',
  payload_format_indicator: 'payloadFormatIndicator',
  topic_alias: 'topicAlias',
  will_delay_interval: 'willDelayInterval',
  session_expiry_interval: 'sessionExpiryInterval',
  assigned_client_identifier: 'assignedClientIdentifier',
  response_information: 'responseInformation',
  topic_alias_maximum: 'topicAliasMaximum',
  receive_maximum: 'receiveMaximum',
};

function propsToJson(props) {
  const out = {};
  if (!props) return out;
  for (const [name, js] of Object.entries(PROPS)) {
    if (props[js] !== undefined) out[name] = props[js];
  }
  if (out.payload_format_indicator !== undefined) {
    out.payload_format_indicator = out.payload_format_indicator ? 1 : 0;
  }
  if (props.correlationData !== undefined) {
    out.correlation_data = Buffer.from(props.correlationData).toString('hex');
  }
  if (props.userProperties !== undefined) {
    // MQTT.js gives an object; a repeated name has an array of values.
    const list = [];
    for (const [k, v] of Object.entries(props.userProperties)) {
      for (const value of Array.isArray(v) ? v : [v]) list.push([k, String(value)]);
    }
    out.user_properties = list;
  }
  if (props.subscriptionIdentifier !== undefined) {
    const ids = props.subscriptionIdentifier;
    out.subscription_identifiers = Array.isArray(ids) ? ids : [ids];
  }
  return out;
}

function propsFromJson(spec) {
  const out = {};
  if (!spec) return out;
  for (const [name, js] of Object.entries(PROPS)) {
    if (spec[name] !== undefined) out[js] = spec[name];
  }
  if (out.payloadFormatIndicator !== undefined) {
    out.payloadFormatIndicator = Boolean(out.payloadFormatIndicator);
  }
  if (spec.correlation_data !== undefined) {
    out.correlationData = Buffer.from(spec.correlation_data, 'hex');
  }
  if (spec.user_properties !== undefined) {
    const up = {};
    for (const [k, v] of spec.user_properties) {
      if (up[k] === undefined) up[k] = v;
      else if (Array.isArray(up[k])) up[k].push(v);
      else up[k] = [up[k], v];
    }
    out.userProperties = up;
  }
  return out;
}

function connect(cmd) {
  version = cmd.version || 5;
  const options = {
    clientId: cmd.id || '',
    protocolVersion: version,
    clean: cmd.clean !== false,
    keepalive: cmd.keepalive === undefined ? 60 : cmd.keepalive,
    reconnectPeriod: 0, // the tests decide when to reconnect
    connectTimeout: 10000,
  };
  if (version === 5) {
    const props = {};
    if (cmd.session_expiry !== undefined) props.sessionExpiryInterval = cmd.session_expiry;
    if (cmd.receive_maximum !== undefined) props.receiveMaximum = cmd.receive_maximum;
    if (cmd.topic_alias_maximum !== undefined) props.topicAliasMaximum = cmd.topic_alias_maximum;
    if (cmd.request_response_information) props.requestResponseInformation = true;
    options.properties = props;
  }
  if (cmd.will) {
    options.will = {
      topic: cmd.will.topic,
      payload: Buffer.from(cmd.will.payload || ''),
      qos: cmd.will.qos || 0,
      retain: Boolean(cmd.will.retain),
      properties: propsFromJson(cmd.will.props),
    };
  }
  client = mqtt.connect(`mqtt://${host}:${port}`, options);
  client.on('connect', (connack) => {
    emit({
      ev: 'connack',
      session_present: Boolean(connack.sessionPresent),
      reason: connack.reasonCode || connack.returnCode || 0,
      props: propsToJson(connack.properties),
    });
  });
  client.on('message', (topic, payload, packet) => {
    emit({
      ev: 'message',
      topic,
      payload: payload.toString('utf8'),
      qos: packet.qos,
      retain: Boolean(packet.retain),
      dup: Boolean(packet.dup),
      props: propsToJson(packet.properties),
    });
  });
  client.on('disconnect', (packet) => emit({ ev: 'disconnected', reason: packet.reasonCode || 0 }));
  client.on('error', (err) => emit({ ev: 'error', message: String(err) }));
}

function subscribe(cmd) {
  const opts = { qos: cmd.qos || 0 };
  if (version === 5) {
    opts.nl = Boolean(cmd.no_local);
    opts.rap = Boolean(cmd.rap);
    opts.rh = cmd.rh || 0;
    if (cmd.sub_id) opts.properties = { subscriptionIdentifier: cmd.sub_id };
  }
  client.subscribe(cmd.filter, opts, (err, granted, packet) => {
    const suback = packet || (err && err.packet);
    if (suback && suback.granted) {
      emit({ ev: 'suback', codes: suback.granted });
    } else {
      emit({ ev: 'error', message: `subscribe: ${err}` });
    }
  });
}

function publish(cmd) {
  const opts = { qos: cmd.qos || 0, retain: Boolean(cmd.retain) };
  if (version === 5 && cmd.props) opts.properties = propsFromJson(cmd.props);
  client.publish(cmd.topic, Buffer.from(cmd.payload || ''), opts, (err, packet) => {
    if (err && err.code === undefined) {
      emit({ ev: 'error', message: `publish: ${err}` });
      return;
    }
    emit({ ev: 'published', reason: (err && err.code) || (packet && packet.reasonCode) || 0 });
  });
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  try {
    switch (cmd.op) {
      case 'exit':
        process.exit(0);
        break;
      case 'connect':
        connect(cmd);
        break;
      case 'subscribe':
        subscribe(cmd);
        break;
      case 'unsubscribe':
        client.unsubscribe(cmd.filter, (err, packet) => {
          emit({ ev: 'unsuback', codes: (packet && packet.reasonCode !== undefined) ? [packet.reasonCode] : [] });
        });
        break;
      case 'publish':
        publish(cmd);
        break;
      case 'disconnect':
        client.end(false, version === 5 && cmd.reason ? { reasonCode: cmd.reason } : {}, () => {
          emit({ ev: 'disconnected', reason: 0 });
        });
        break;
      default:
        emit({ ev: 'error', message: `unknown op ${cmd.op}` });
    }
  } catch (err) {
    emit({ ev: 'error', message: `${cmd.op}: ${err}` });
  }
});
rl.on('close', () => process.exit(0));
emit({ ev: 'ready' });
