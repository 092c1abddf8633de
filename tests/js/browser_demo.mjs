// The demo page in a real browser: Debian's headless Chromium driven by playwright-core,
// for tests/tests/gateway_interop.rs.
//
//   node browser_demo.mjs HTTP_URL MQTT_PORT MOSQUITTO_PUB ARTIFACTS_DIR
//
// Two pages (alice, bob) chat through the demo page at `/` (the /ws JSON protocol);
// bob's topic viewer shows a retained and a live message from `mosquitto_pub`; MQTT.js,
// injected into alice's page, connects over /mqtt and exchanges chat lines with the
// pages. Every WebSocket handshake is recorded from Chromium's side (DevTools protocol:
// status, Sec-WebSocket-Extensions, Sec-WebSocket-Protocol). Screenshots go to
// ARTIFACTS_DIR. The last stdout line is one JSON report for the Rust test to assert on;
// the exit status is non-zero if a step did not happen within its timeout.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

const STEP_MS = 10_000;
const [base, mqttPort, mosquittoPub, artifacts] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const room = "interop";
const report = { handshakes: [], page_errors: [], console_errors: [], screenshots: [] };
const log = (step) => process.stderr.write(`browser_demo: ${step}\n`);
// A hard bound whatever happens.
setTimeout(() => {
  process.stderr.write("browser_demo: still running after 60 s\n");
  process.exit(3);
}, 60_000).unref();

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "realtime-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  viewport: { width: 1280, height: 860 },
  timeout: 20_000,
});
context.setDefaultTimeout(STEP_MS);

const header = (headers, name) => {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? null : headers[key];
};

async function openPage(name) {
  const page = name === "alice" && context.pages().length > 0 ? context.pages()[0] : await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const urls = new Map();
  cdp.on("Network.webSocketCreated", (e) => urls.set(e.requestId, e.url));
  cdp.on("Network.webSocketHandshakeResponseReceived", (e) => {
    report.handshakes.push({
      page: name,
      url: urls.get(e.requestId) ?? null,
      status: e.response.status,
      extensions: header(e.response.headers, "sec-websocket-extensions"),
      protocol: header(e.response.headers, "sec-websocket-protocol"),
    });
  });
  page.on("pageerror", (err) => report.page_errors.push(`${name}: ${err.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") report.console_errors.push(`${name}: ${m.text()}`);
  });
  await page.goto(`${base}/`);
  await page.locator("#status[data-state=online]").waitFor();
  return page;
}

async function join(page, name) {
  // The room becomes one topic level: the form refuses '/', '+' and '#'.
  await page.fill("#chat-room", "a/b");
  report[`${name}_room_a_b_refused`] = await page.$eval("#chat-room", (el) => el.validity.patternMismatch);
  await page.fill("#chat-name", name);
  await page.fill("#chat-room", room);
  await page.click("#chat-join button[type=submit]");
  await page.locator("#chat-log li.sys", { hasText: `joined chat/${room}` }).waitFor();
}

async function say(page, text) {
  await page.fill("#chat-text", text);
  await page.press("#chat-text", "Enter");
}

const chatLine = (page, who, text) =>
  page.locator("#chat-log li", { hasText: text }).filter({ has: page.locator(".who", { hasText: who }) }).waitFor();

const chatLog = (page) =>
  page.$$eval("#chat-log li:not(.sys)", (lis) =>
    lis.map((li) => ({ who: li.querySelector(".who")?.textContent ?? null, text: li.lastChild?.textContent ?? "" })));

const run = promisify(execFile);
const mosquitto = (...args) =>
  run(mosquittoPub, ["-h", "127.0.0.1", "-p", mqttPort, "-q", "1", ...args], { timeout: STEP_MS });

let alice;
let bob;
let failed = null;
try {
  log("open two pages");
  [alice, bob] = await Promise.all([openPage("alice"), openPage("bob")]);
  await Promise.all([join(alice, "alice"), join(bob, "bob")]);

  log("chat between the pages");
  await say(alice, "hello bob, from alice");
  await chatLine(bob, "alice", "hello bob, from alice");
  await say(bob, "hi alice ✓ (ünïcode)");
  await chatLine(alice, "bob", "hi alice ✓ (ünïcode)");

  log("topic viewer: retained and live messages from mosquitto_pub");
  await mosquitto("-r", "-t", "sensors/door", "-m", "open");
  await bob.fill("#viewer-filter", "sensors/#");
  await bob.click("#viewer-form button[type=submit]");
  await bob.locator('#viewer-state[data-filter="sensors/#"]').waitFor();
  await bob.locator("#viewer-log tr", { hasText: "sensors/door" }).waitFor();
  await mosquitto("-t", "sensors/kitchen/temp", "-m", "21.5");
  await bob.locator("#viewer-log tr", { hasText: "sensors/kitchen/temp" }).waitFor();

  log("MQTT.js in the page over /mqtt");
  await alice.addScriptTag({ path: path.join(here, "node_modules/mqtt/dist/mqtt.min.js") });
  await alice.evaluate(async ({ room, timeout }) => {
    const client = mqtt.connect(`ws://${location.host}/mqtt`, {
      protocolVersion: 5, reconnectPeriod: 0, clientId: "browser-mqttjs", connectTimeout: timeout,
    });
    await new Promise((resolve, reject) => {
      client.once("connect", resolve);
      client.once("error", reject);
    });
    window.mqttInbox = [];
    client.on("message", (topic, payload, packet) => {
      window.mqttInbox.push({ topic, text: new TextDecoder().decode(payload), qos: packet.qos, retain: packet.retain });
    });
    await client.subscribeAsync(`chat/${room}`, { qos: 1 });
    await client.publishAsync(`chat/${room}`, JSON.stringify({ from: "mqtt.js", text: "hello from MQTT.js in the page" }), { qos: 1 });
    window.mqttClient = client;
  }, { room, timeout: STEP_MS });
  await chatLine(bob, "mqtt.js", "hello from MQTT.js in the page");
  await say(bob, "welcome, MQTT.js");
  await alice.waitForFunction(() => window.mqttInbox.some((m) => m.text.includes("welcome, MQTT.js")));
} catch (err) {
  failed = err;
  report.error = String(err?.stack ?? err);
}

// Report and screenshots, also after a failure (they show how far it got).
try {
  for (const [name, page] of [["alice", alice], ["bob", bob]]) {
    if (!page) continue;
    report[`${name}_chat`] = await chatLog(page);
    const file = path.join(artifacts, `browser-demo-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    report.screenshots.push(file);
  }
  if (bob) {
    report.viewer = await bob.$$eval("#viewer-log tr", (rows) =>
      rows.map((tr) => Array.from(tr.cells, (td) => td.textContent)));
    report.viewer_state = await bob.textContent("#viewer-state");
  }
  if (alice) report.mqtt_inbox = await alice.evaluate(() => window.mqttInbox ?? null);
  if (alice) await alice.evaluate(() => window.mqttClient?.end(true));
} catch (err) {
  failed ??= err;
  report.report_error = String(err);
}
await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(failed ? 1 : 0);
