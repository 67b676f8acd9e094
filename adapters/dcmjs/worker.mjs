// dcmharness's dcmjs-imaging worker: JSON Lines requests on stdin, one JSON answer line each on stdout.
//
// Request: {"id", "input", "outputs": [{"frame", "path"}], "format": "png"|"pnm", "png_compression",
//           "window": [center, width] | null, "voi": "auto"|"window", "voi_index", "voi_function", "overlays"}
//      or   {"id", "op": "from_json", "input": DICOM JSON with every bulk value inline, "output", "transfer_syntax"}
//           (dcmjs's DicomDict writes the data set: see fromJson below)
// Answer:  {"id", "ok": true, "result": {...}, "ms": {...}} or {"id", "ok": false, "error": {"code", "message"}}
//
// Rendering is dcmjs-imaging's own DicomImage.render (RGBA out); the worker only selects what to ask for and
// writes the pixels (grayscale images as one channel, colour as RGB). Everything the library logs goes to
// stderr: stdout carries the answers only.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import readline from 'node:readline';
import zlib from 'node:zlib';

const require = createRequire(import.meta.url);
const { DicomImage, NativePixelDecoder, WindowLevel, version } = require('dcmjs-imaging');
const dcmjs = require('dcmjs');

const answerOut = process.stdout.write.bind(process.stdout);
for (const name of ['log', 'info', 'debug', 'warn', 'trace']) {
  console[name] = (...args) => console.error(...args);
}

const GRAYSCALE = new Set(['MONOCHROME1', 'MONOCHROME2']);
const FUNCTIONS = { linear: 'LINEAR', linear_exact: 'LINEAR_EXACT', sigmoid: 'SIGMOID' };

class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// zlib.crc32 (Node >= 20.15), else a table-driven CRC-32 (PNG's, ISO 3309)
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
const crc32 =
  zlib.crc32 ??
  ((data, value = 0) => {
    let c = ~value;
    for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 255] ^ (c >>> 8);
    return ~c >>> 0;
  });

function pngChunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))) >>> 0, 0);
  return [head, data, crc];
}

// PNG, 8-bit, colour type 0 (gray) or 2 (RGB); every row filtered Up (type 2).
function encodePng(pixels, width, height, channels, level) {
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const out = y * (stride + 1);
    raw[out] = 2;
    const row = y * stride;
    if (y === 0) {
      pixels.copy(raw, out + 1, row, row + stride);
    } else {
      for (let x = 0; x < stride; x++) raw[out + 1 + x] = (pixels[row + x] - pixels[row - stride + x]) & 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : 2;
  // default as python_ref's writer: zlib's RLE strategy for grayscale, level 1 for colour
  const options =
    level === null || level === undefined
      ? channels === 1
        ? { level: 6, strategy: zlib.constants.Z_RLE }
        : { level: 1 }
      : { level };
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    ...pngChunk('IHDR', ihdr),
    ...pngChunk('IDAT', zlib.deflateSync(raw, options)),
    ...pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function encodePnm(pixels, width, height, channels) {
  const head = Buffer.from(`${channels === 1 ? 'P5' : 'P6'}\n${width} ${height}\n255\n`, 'latin1');
  return Buffer.concat([head, pixels]);
}

// RGBA -> one channel (grayscale output: dcmjs-imaging's grayscale palette gives R = G = B) or RGB.
function channelsOf(rgba, count, channels) {
  const out = Buffer.alloc(count * channels);
  if (channels === 1) {
    for (let i = 0, j = 0; i < count; i++, j += 4) out[i] = rgba[j];
  } else {
    for (let i = 0, j = 0, k = 0; i < count; i++, j += 4, k += 3) {
      out[k] = rgba[j];
      out[k + 1] = rgba[j + 1];
      out[k + 2] = rgba[j + 2];
    }
  }
  return out;
}

function windowFor(image, req) {
  if (req.window) return new WindowLevel(req.window[1], req.window[0]);
  if (req.voi === 'window') {
    const stored = WindowLevel.fromDicomImageElements(image.getElements());
    const index = req.voi_index ?? 0;
    if (index >= stored.length) {
      throw new RequestError('decode_failed', `the file has ${stored.length} usable stored window(s); voi_index ${index}`);
    }
    return stored[index];
  }
  return undefined; // dcmjs-imaging's own choice: the first stored window, else its min-max window
}

function handle(req) {
  const t0 = performance.now();
  const bytes = fs.readFileSync(req.input);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const image = new DicomImage(buffer);
  const t1 = performance.now();
  const photometric = String(image.getElement('PhotometricInterpretation') ?? '').trim();
  const grayscale = GRAYSCALE.has(photometric);
  const fn = req.voi_function ? FUNCTIONS[req.voi_function] : req.window ? 'LINEAR' : undefined;
  if (fn) image.setElement('VOILUTFunction', fn);
  const windowLevel = grayscale ? windowFor(image, req) : undefined;
  let renderMs = 0;
  let encodeMs = 0;
  const frames = [];
  let shape = null;
  let used = null;
  for (const target of req.outputs) {
    const r0 = performance.now();
    const rendered = image.render({ frame: target.frame, windowLevel, renderOverlays: req.overlays !== false });
    const r1 = performance.now();
    const channels = grayscale ? 1 : 3;
    const count = rendered.width * rendered.height;
    const pixels = channelsOf(new Uint8Array(rendered.pixels), count, channels);
    const data =
      req.format === 'pnm'
        ? encodePnm(pixels, rendered.width, rendered.height, channels)
        : encodePng(pixels, rendered.width, rendered.height, channels, req.png_compression);
    fs.writeFileSync(target.path, data, { flag: 'wx' });
    renderMs += r1 - r0;
    encodeMs += performance.now() - r1;
    frames.push(target.frame);
    shape = { width: rendered.width, height: rendered.height, mode: channels === 1 ? 'L' : 'RGB' };
    if (rendered.windowLevel) used = [rendered.windowLevel.getLevel(), rendered.windowLevel.getWindow()];
  }
  const result = { ...shape, frames, window: used, voi_function: fn ?? image.getElement('VOILUTFunction') ?? null };
  const ms = { read: t1 - t0, render: renderMs, encode: encodeMs, total: performance.now() - t0 };
  return { ok: true, result, ms };
}

// from_json: the DICOM JSON model -> dcmjs's own dict form (binary values as ArrayBuffers, AT values as numbers,
// every attribute with a Value array), then new dcmjs.data.DicomDict(meta) + dict.write(). dcmjs writes every
// string as UTF-8 whatever the Specific Character Set says; when the document has non-ASCII text, its Specific
// Character Set (and an item's) becomes ISO_IR 192 so that the declared set describes the bytes (as dcmtk's
// json2dcm --charset-replace does).
function nonAscii(model) {
  for (const el of Object.values(model)) {
    for (const v of el.Value ?? []) {
      if (el.vr === 'SQ' ? nonAscii(v) : JSON.stringify(v ?? '').match(/[^\x00-\x7f]/)) return true;
    }
  }
  return false;
}

function toDcmjs(model, utf8) {
  const out = {};
  for (const [tag, el] of Object.entries(model)) {
    const e = { vr: el.vr };
    if ('InlineBinary' in el) {
      const b = Buffer.from(el.InlineBinary, 'base64');
      e.Value = [b.buffer.slice(b.byteOffset, b.byteOffset + b.length)];
    } else if (el.vr === 'SQ') {
      e.Value = (el.Value ?? []).map((item) => toDcmjs(item, utf8));
    } else if (el.vr === 'AT') {
      e.Value = (el.Value ?? []).map((v) => parseInt(v, 16));
    } else {
      e.Value = el.Value ?? [];
    }
    out[tag] = e;
  }
  if (utf8 && out['00080005']) out['00080005'] = { vr: 'CS', Value: ['ISO_IR 192'] };
  return out;
}

function fromJson(req) {
  const t0 = performance.now();
  const doc = JSON.parse(fs.readFileSync(req.input, 'utf8'));
  const utf8 = nonAscii(doc);
  const meta = {};
  const dataset = {};
  for (const [tag, el] of Object.entries(toDcmjs(doc, utf8))) (tag.startsWith('0002') ? meta : dataset)[tag] = el;
  if (utf8 && !dataset['00080005']) dataset['00080005'] = { vr: 'CS', Value: ['ISO_IR 192'] };
  meta['00020010'] = { vr: 'UI', Value: [req.transfer_syntax] };
  const dict = new dcmjs.data.DicomDict(meta);
  dict.dict = dataset;
  fs.writeFileSync(req.output, Buffer.from(dict.write()), { flag: 'wx' });
  return { ok: true, result: { charset_replaced: utf8 }, ms: { total: performance.now() - t0 } };
}

function errorOf(err) {
  if (err instanceof RequestError) return { code: err.code, message: err.message };
  if (err && err.code === 'EEXIST') return { code: 'output_exists', message: String(err.message) };
  if (err && err.code === 'ENOENT') return { code: 'input_not_found', message: String(err.message) };
  return { code: 'decode_failed', message: String((err && err.message) || err) };
}

await NativePixelDecoder.initializeAsync();
answerOut(JSON.stringify({ ready: true, version }) + '\n');

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    answerOut(JSON.stringify({ id: null, ok: false, error: { code: 'invalid_request', message: String(err) } }) + '\n');
    continue;
  }
  let answer;
  try {
    answer = req.op === 'from_json' ? fromJson(req) : handle(req);
  } catch (err) {
    answer = { ok: false, error: errorOf(err) };
  }
  answerOut(JSON.stringify({ id: req.id ?? null, ...answer }) + '\n');
}
