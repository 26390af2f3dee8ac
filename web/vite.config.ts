import { defineConfig } from "vite";

// Built into web/dist, which rmm-server serves on the API's port (server/web/web-assets.ts).
export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The Content-Security-Policy allows only our own scripts: no inline polyfill.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
});
