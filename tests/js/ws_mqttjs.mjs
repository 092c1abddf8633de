// MQTT.js (npm `mqtt`) over WebSocket on the server's /mqtt route, for the gateway
// interop tests (tests/tests/gateway_interop.rs). One JSON event per line on stdout;
// exit 0 when the scenario completed, non-zero with the reason on stderr otherwise.
//
//   node ws_mqttjs.mjs sub URL FILTER COUNT [QOS]
//     -> {"ev":"ready"} after the SUBACK, COUNT {"ev":"message","topic","payload_hex",
//        "qos","retain"}, then {"ev":"done"}
//   node ws_mqttjs.mjs pub URL TOPIC TEXT [QOS] [retain]
//     -> {"ev":"published"} once the QoS flow completed
import mqtt from "mqtt";

const TIMEOUT_MS = 10_000;
const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const fail = (message) => {
  process.stderr.write(`ws_mqttjs: ${message}\n`);
  process.exit(1);
};
// A hard bound whatever happens: the test never waits on a stuck peer.
setTimeout(() => fail(`still running after ${(3 * TIMEOUT_MS) / 1000}s`), 3 * TIMEOUT_MS).unref();

function connect(url) {
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: TIMEOUT_MS,
    clean: true,
  });
  client.on("error", (err) => fail(`client error: ${err.message}`));
  return new Promise((resolve) => client.once("connect", () => resolve(client)));
}

const [command, url, ...rest] = process.argv.slice(2);
if (command === "sub") {
  const [filter, count, qos = "0"] = rest;
  const client = await connect(url);
  let seen = 0;
  client.on("message", (topic, payload, packet) => {
    emit({ ev: "message", topic, payload_hex: payload.toString("hex"), qos: packet.qos, retain: packet.retain });
    if (++seen === Number(count)) {
      client.end(false, {}, () => {
        emit({ ev: "done" });
        process.exit(0);
      });
    }
  });
  const granted = await client.subscribeAsync(filter, { qos: Number(qos) });
  if (granted.some((g) => g.qos >= 0x80)) fail(`SUBACK refused: ${JSON.stringify(granted)}`);
  emit({ ev: "ready" });
} else if (command === "pub") {
  const [topic, text, qos = "0", retain = ""] = rest;
  const client = await connect(url);
  await client.publishAsync(topic, text, { qos: Number(qos), retain: retain === "retain" });
  await client.endAsync();
  emit({ ev: "published" });
  process.exit(0);
} else {
  fail(`unknown command ${command}`);
}
