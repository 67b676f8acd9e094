// The cornerstone backend's driver: a JSON Lines worker (one request per stdin line, one answer per stdout
// line) that renders through Cornerstone3D in a page of the Chromium the harness started.
//   node driver.mjs <browser WebSocket endpoint>
// It serves build/ and the requested DICOM files on 127.0.0.1 (a free port; files by token, only those
// asked for), keeps one page, and replaces the page when a render outlives its timeout. An exception the page
// throws outside the render's promise (Cornerstone's canvas callbacks: the promise then never settles) fails
// the request PAGE_ERROR_GRACE_MS later if the render has not answered by then, and the page is replaced.
// Request:  {"id": 1, "input": "/abs/file.dcm", "frame": 0, "window": [c, w] | null, "timeout_ms": 30000}
//           or {"id", "op": "decode", "input", "frame", "timeout_ms"}: the decoded frame (window.dcmhDecode)
// Answer:   {"id": 1, "ok": true, "width", "height", "color", "pixels": base64 RGB}
//        or {"id": 1, "ok": false, "code": "timeout" | "decode_failed" | "backend_failed", "message"}
import { createServer } from 'node:http';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import puppeteer from 'puppeteer-core';

const BUILD = join(dirname(fileURLToPath(import.meta.url)), 'build');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
const files = new Map(); // token -> absolute path of a file a request named

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  let path = null;
  let type = 'application/dicom';
  if (url.pathname.startsWith('/dicom/')) {
    path = files.get(url.pathname.slice(7)) || null;
  } else {
    const rel = normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '');
    if (!rel.startsWith('..')) {
      path = join(BUILD, rel || 'index.html');
      type = TYPES[extname(path)] || 'application/octet-stream';
    }
  }
  let size = -1;
  try {
    size = path ? statSync(path).size : -1;
  } catch {
    size = -1;
  }
  if (size < 0) {
    process.stderr.write(`not served (404): ${url.pathname}\n`);
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': size, 'Cache-Control': 'no-store' });
  createReadStream(path).pipe(res);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await puppeteer.connect({ browserWSEndpoint: process.argv[2], protocolTimeout: 60000 });
let page = null;
const PAGE_ERROR_GRACE_MS = 2000;
let onPageError = null; // the running request's: called with the page's first uncaught exception

async function newPage() {
  const p = await browser.newPage();
  p.on('pageerror', (e) => {
    process.stderr.write(`page error: ${e.message}\n`);
    if (onPageError) onPageError(e);
  });
  p.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`page console: ${m.text()}\n`); });
  await p.goto(`${origin}/index.html`, { waitUntil: 'load', timeout: 30000 });
  await p.waitForFunction('window.dcmhReady === true', { timeout: 30000 });
  return p;
}

async function replacePage() {
  const old = page;
  page = null;
  if (old) {
    await Promise.race([old.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  }
  page = await newPage();
}

function timeoutAfter(ms) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer from the page within ${ms} ms`), { code: 'timeout' })), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

async function handle(req) {
  const token = `${req.id}-${Math.random().toString(36).slice(2)}`;
  files.set(token, req.input);
  const frame = Number.isInteger(req.frame) && req.frame > 0 ? `&frame=${req.frame + 1}` : '';
  const timer = timeoutAfter(req.timeout_ms || 30000);
  let graceTimer = null;
  const thrown = new Promise((_, reject) => {
    onPageError = (e) => {
      onPageError = null;
      const message = `Cornerstone threw and did not answer: ${String(e && e.message ? e.message : e).split('\n')[0]}`;
      graceTimer = setTimeout(() => reject(Object.assign(new Error(message), { code: 'page_error' })), PAGE_ERROR_GRACE_MS);
    };
  });
  thrown.catch(() => {});
  const work = (async () => {
    if (!page) page = await newPage();
    const imageId = `wadouri:${origin}/dicom/${token}${frame}`;
    if (req.op === 'decode') return page.evaluate((r) => window.dcmhDecode(r), { imageId });
    return page.evaluate((r) => window.dcmhRender(r), { imageId, window: req.window, colormap: req.colormap || null });
  })();
  work.catch(() => {}); // a late failure after a timeout is not an unhandled rejection
  try {
    const out = await Promise.race([work, timer.promise, thrown]);
    return { id: req.id, ok: true, ...out };
  } catch (e) {
    if (e.code === 'timeout' || e.code === 'page_error') {
      await replacePage().catch((err) => process.stderr.write(`page replacement failed: ${err.message}\n`));
      return { id: req.id, ok: false, code: e.code === 'timeout' ? 'timeout' : 'decode_failed', message: e.message };
    }
    const message = String(e && e.message ? e.message : e).split('\n')[0];
    return { id: req.id, ok: false, code: 'decode_failed', message };
  } finally {
    timer.cancel();
    clearTimeout(graceTimer);
    onPageError = null;
    files.delete(token);
  }
}

const lines = createInterface({ input: process.stdin });
const queue = [];
let busy = false;
async function pump() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    const line = queue.shift();
    let req;
    try {
      req = JSON.parse(line);
    } catch {
      process.stdout.write(JSON.stringify({ id: null, ok: false, code: 'backend_failed', message: 'bad request line' }) + '\n');
      continue;
    }
    process.stdout.write(JSON.stringify(await handle(req)) + '\n');
  }
  busy = false;
}
lines.on('line', (line) => { queue.push(line); pump(); });
lines.on('close', async () => {
  while (busy || queue.length) await new Promise((r) => setTimeout(r, 10));
  await browser.disconnect();
  server.close();
  process.exit(0);
});
process.stdout.write(JSON.stringify({ ready: true, origin }) + '\n');
