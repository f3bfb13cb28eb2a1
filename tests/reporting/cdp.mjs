// Drive headless Chromium over the DevTools protocol: open a URL, wait for texts, click texts, then print
// the page's visible text (and optionally save a screenshot).
//
// Why: `chromium --dump-dom` cannot click, and the Allure 3 awesome report shows an attachment's content
// only after its row is clicked. Node 20's built-in WebSocket (behind --experimental-websocket) talks to
// Chromium directly, so this needs no npm package (no puppeteer) and no Python websocket library.
//
// Usage: node --experimental-websocket cdp.mjs '<json spec>'
//   spec = {chromium, url, flags: [...], waitFor: [text...], click: [{text, waitFor: [text...]}...],
//           screenshot?: path, width?: 1400, height?: 1000, timeoutMs?: 30000}
// Prints {"text": <document.body.innerText>} as JSON on stdout; exit 1 with a message on timeout.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const spec = JSON.parse(process.argv[2]);
const timeoutMs = spec.timeoutMs ?? 30000;
const deadline = Date.now() + timeoutMs;
const profile = mkdtempSync(join(tmpdir(), "cdp-chromium-"));
const browser = spawn(
  spec.chromium,
  [...spec.flags, `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank"],
  { stdio: ["ignore", "ignore", "pipe"] },
);

function fail(message) {
  process.stderr.write(`cdp: ${message}\n`);
  cleanup();
  process.exit(1);
}
function cleanup() {
  try { browser.kill("SIGKILL"); } catch { /* already gone */ }
  try { rmSync(profile, { recursive: true, force: true }); } catch { /* best effort */ }
}
const guard = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);

const wsUrl = await new Promise((resolve, reject) => {
  let buf = "";
  browser.stderr.on("data", (chunk) => {
    buf += chunk.toString();
    const m = buf.match(/DevTools listening on (ws:\/\/\S+)/);
    if (m) resolve(m[1]);
  });
  browser.on("exit", (code) => reject(new Error(`chromium exited (${code}) before DevTools was ready`)));
}).catch((e) => fail(e.message));

const ws = new WebSocket(wsUrl);
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error("ws error")); })
  .catch((e) => fail(e.message));
let nextId = 1;
const pending = new Map();
ws.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  if (msg.id && pending.has(msg.id)) {
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) reject(new Error(`${msg.error.message}`)); else resolve(msg.result);
  }
};
function send(method, params = {}, sessionId = undefined) {
  const id = nextId++;
  ws.send(JSON.stringify({ id, method, params, sessionId }));
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

const { targetId } = await send("Target.createTarget", { url: "about:blank" });
const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
const page = (method, params) => send(method, params, sessionId);
await page("Emulation.setDeviceMetricsOverride", {
  width: spec.width ?? 1400, height: spec.height ?? 1000, deviceScaleFactor: 1, mobile: false,
});
await page("Page.enable");
await page("Page.navigate", { url: spec.url });

async function evaluate(expression) {
  const r = await page("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
  return r.result.value;
}
const bodyText = () => evaluate("document.body ? document.body.innerText : ''");

// Poll (bounded by the overall deadline) until every text is on the page; polling, not a fixed sleep.
async function waitForTexts(texts) {
  for (;;) {
    const text = await bodyText();
    const missing = (texts ?? []).filter((t) => !text.includes(t));
    if (missing.length === 0) return text;
    if (Date.now() > deadline) fail(`texts never appeared: ${JSON.stringify(missing)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Click the innermost visible element whose own text equals `text` (then its clickable ancestor gets it).
async function clickText(text) {
  const clicked = await evaluate(`(() => {
    const want = ${JSON.stringify(text)};
    const all = [...document.querySelectorAll("body *")].filter(
      (el) => el.offsetParent !== null && el.textContent.trim() === want);
    const inner = all.filter((el) => ![...el.children].some((c) => c.textContent.trim() === want));
    if (!inner.length) return false;
    inner[0].scrollIntoView();
    inner[0].click();
    return true;
  })()`);
  if (!clicked) fail(`nothing to click with text ${JSON.stringify(text)}`);
}

await waitForTexts(spec.waitFor);
for (const step of spec.click ?? []) {
  await waitForTexts([step.text]);
  await clickText(step.text);
  await waitForTexts(step.waitFor);
}
const text = await bodyText();
if (spec.screenshot) {
  const shot = await page("Page.captureScreenshot", { format: "png" });
  writeFileSync(spec.screenshot, Buffer.from(shot.data, "base64"));
}
process.stdout.write(JSON.stringify({ text }) + "\n");
clearTimeout(guard);
try { await send("Browser.close"); } catch { /* closing */ }
ws.close();
cleanup();
process.exit(0);
