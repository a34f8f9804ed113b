import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The page lives in web/ and builds to dist-web/ (dist/ is the CLI's). Everything is bundled: no CDN.
// threads.html: a bare page for the wasm threads checks (test/browser.mjs) and bench/page-threads.bench.mjs.
// Cross-origin isolation lets the wasm backend use threads (SharedArrayBuffer).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: 'web',
  base: './',
  build: {
    outDir: '../dist-web',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 8000,
    assetsInlineLimit: 0,
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('web/index.html', import.meta.url)),
        threads: fileURLToPath(new URL('web/threads.html', import.meta.url)),
      },
    },
  },
  server: { headers: isolation },
  preview: { headers: isolation },
});
