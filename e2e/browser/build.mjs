// Bundles src/app.tsx into dist/ with esbuild: a production browser bundle
// (React's production build, minified, source maps beside it) of a minimal
// Backstage app, without the Backstage CLI's webpack build: what users load,
// so that the page's render times measured on it are theirs. Prints one JSON
// line with the time it took.
import { build } from 'esbuild';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
const started = performance.now();

await mkdir(out, { recursive: true });
const result = await build({
  entryPoints: [join(here, 'src', 'app.tsx')],
  outdir: out,
  bundle: true,
  format: 'esm',
  splitting: true,
  platform: 'browser',
  target: 'es2022',
  jsx: 'automatic',
  minify: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  loader: {
    '.svg': 'dataurl',
    '.png': 'dataurl',
    '.jpg': 'dataurl',
    '.woff': 'dataurl',
    '.woff2': 'dataurl',
    '.ttf': 'dataurl',
  },
  define: {
    'process.env.NODE_ENV': '"production"',
    // The app reads its configuration at run time from the page.
    'process.env.APP_CONFIG': 'undefined',
    global: 'globalThis',
  },
});
await writeFile(join(out, 'meta.json'), JSON.stringify(result.metafile));

// The page's own number formatting, for the driver to write the figures
// paved returns exactly as the page must show them.
await build({
  entryPoints: [join(here, '..', '..', 'plugin-frontend', 'src', 'components', 'format.ts')],
  outfile: join(out, 'format.mjs'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  logLevel: 'warning',
});

const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(JSON.stringify({ bundleMs: Math.round(performance.now() - started), bytes }));
