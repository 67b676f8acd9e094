// Bundle the page (page/entry.mjs -> build/page.js) and the loader's decode worker
// (-> build/decodeImageFrameWorker.js, where the bundle's new URL('./decodeImageFrameWorker.js', import.meta.url)
// finds it), copy the codecs' WebAssembly into build/wasm/. Run by make setup after npm ci.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build');
const modules = join(here, 'node_modules');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'wasm'), { recursive: true });

// Node built-ins named by dependencies' Node code paths (Emscripten glue, xmlbuilder2) that a page never
// reaches: resolved to an empty module instead of failing the bundle.
const NODE_BUILTINS = /^(node:)?(fs|path|crypto|module|worker_threads|url|events|stream|util|os|buffer|zlib)$/;
const stubNodeBuiltins = {
  name: 'stub-node-builtins',
  setup(b) {
    b.onResolve({ filter: NODE_BUILTINS }, (args) => ({ path: args.path, namespace: 'node-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({
      contents: /events$/.test(args.path)
        ? 'export class EventEmitter { on() { return this; } once() { return this; } emit() { return false; } }\n'
          + 'export default EventEmitter;'
        : 'export default {};',
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'chrome120',
  logLevel: 'warning',
  loader: { '.wasm': 'file' },
  plugins: [stubNodeBuiltins],
  define: { 'process.env.NODE_ENV': '"production"' },
};
await build({ ...common, entryPoints: [join(here, 'page', 'entry.mjs')], outfile: join(out, 'page.js') });
await build({
  ...common,
  entryPoints: [join(modules, '@cornerstonejs', 'dicom-image-loader', 'dist', 'esm', 'decodeImageFrameWorker.js')],
  outfile: join(out, 'decodeImageFrameWorker.js'),
});
copyFileSync(join(here, 'page', 'index.html'), join(out, 'index.html'));
for (const codec of readdirSync(join(modules, '@cornerstonejs')).filter((d) => d.startsWith('codec-'))) {
  const dist = join(modules, '@cornerstonejs', codec, 'dist');
  for (const f of readdirSync(dist).filter((f) => f.endsWith('.wasm'))) {
    copyFileSync(join(dist, f), join(out, 'wasm', f));
  }
}
console.log(`built ${out}`);
