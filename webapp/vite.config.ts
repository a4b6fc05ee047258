// The build goes into the Python package (web/ui/), so the server and the wheel carry it.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: "../web/ui",
    emptyOutDir: true,
    assetsDir: "assets", // hashed names: served with a year-long, immutable cache
    // No inline <script>, no data: module preload: the strict Content-Security-Policy allows
    // only scripts from our own origin.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: "es2022",
  },
  // `npm run dev`: on :3000 (an origin the server allows by default), the API of a server on :8000.
  server: {
    port: 3000,
    strictPort: true,
    proxy: { "/graphql": { target: "http://127.0.0.1:8000", ws: true }, "/payments": "http://127.0.0.1:8000" },
  },
});
