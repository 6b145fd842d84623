import { defineConfig, type PluginOption } from 'vite';

// The node server serves `dist/` at `/`; in development `vite` proxies the API to a running node
// (OPENLEDGER_URL, default http://127.0.0.1:7410). esbuild's automatic JSX runtime is all React needs.
const target = process.env.OPENLEDGER_URL ?? 'http://127.0.0.1:7410';

// OPENLEDGER_MOCK=1 serves an in-memory stand-in for the API (dev/mock.ts) instead of proxying.
const mock = process.env.OPENLEDGER_MOCK === '1';
const plugins: PluginOption[] = mock ? [import('./dev/mock.ts').then((m) => m.mockApi())] : [];

export default defineConfig({
  plugins,
  base: './',
  esbuild: { jsx: 'automatic' },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 900 },
  server: {
    proxy: mock
      ? undefined
      : {
          '/api': { target, changeOrigin: false },
          '/v1': { target, changeOrigin: false },
          '/docs': { target, changeOrigin: false },
        },
  },
});
