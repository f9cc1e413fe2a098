// The app is served by `sealcast serve` from dist/ under a strict
// Content-Security-Policy (see src/http/demo.rs): nothing inline, nothing
// from another host, so assets are always files and never data: URIs.
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
    // hls.js alone is ~520 kB minified; it loads only on the watch page.
    chunkSizeWarningLimit: 700,
  },
  server: {
    // `npm run dev` against a local `sealcast serve` on the default port.
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/hls': 'http://127.0.0.1:8080',
      '/keys': 'http://127.0.0.1:8080',
    },
  },
});
