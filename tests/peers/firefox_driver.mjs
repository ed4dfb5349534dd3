// Firefox ESR driven by Puppeteer over WebDriver BiDi, spoken to in JSON lines (tests/peers/firefox.py).
//
// argv: the Firefox binary, the page's width and height.  Once the browser is up it writes
// {"ready": true, "version": ..., "pid": ...}; then each line on stdin is a request {id, op, ...} and each
// answer {id, value} or {id, error}.  ops: goto {url}, evaluate {expression} (its JSON text, a promise
// awaited), resize {width, height}, click {selector}, screenshot {path}, errors {} (what the page logged as errors or threw since the last ask).
// End of stdin, SIGTERM or SIGINT: the browser is closed (Puppeteer removes its temporary profile), then it exits.
import readline from 'node:readline';
import puppeteer from 'puppeteer-core';

const [executablePath, width, height] = process.argv.slice(2);
const browser = await puppeteer.launch({
  browser: 'firefox',
  protocol: 'webDriverBiDi',
  executablePath,
  headless: true,
  defaultViewport: { width: Number(width), height: Number(height) },
  extraPrefsFirefox: {
    // Nothing from outside: a stage network is offline, and so is this machine.
    'app.update.enabled': false,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
  },
});
const [page] = await browser.pages();
await page.setViewport({ width: Number(width), height: Number(height) }); // defaultViewport leaves the first page as it was
/** @type {string[]} */
let errors = [];
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
page.on('pageerror', (e) => errors.push(String(e)));

/** @param {object} message */
const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

let closing = null;
const close = () => {
  closing ??= browser.close().catch(() => {}).then(() => process.exit(0));
  return closing;
};
process.on('SIGTERM', close);
process.on('SIGINT', close);

/** @param {{op: string, url?: string, expression?: string, selector?: string, path?: string, width?: number, height?: number}} request */
async function handle(request) {
  switch (request.op) {
    case 'goto':
      await page.goto(String(request.url), { waitUntil: 'load' });
      return null;
    case 'evaluate':
      // The expression is wrapped by tests/peers/engine.py: it answers JSON text.
      return await page.evaluate(String(request.expression));
    case 'resize':
      await page.setViewport({ width: Number(request.width), height: Number(request.height) });
      return null;
    case 'click':
      await page.click(String(request.selector));
      return null;
    case 'screenshot':
      await page.screenshot({ path: String(request.path) });
      return null;
    case 'errors': {
      const out = errors;
      errors = [];
      return out;
    }
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

send({ ready: true, version: await browser.version(), pid: browser.process()?.pid ?? null });
const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const request = JSON.parse(line);
  try {
    send({ id: request.id, value: (await handle(request)) ?? null }); // undefined would drop the key
  } catch (e) {
    send({ id: request.id, error: String(e instanceof Error ? e.stack ?? e.message : e) });
  }
}
await close();
