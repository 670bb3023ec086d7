// Builds the editor into dist/app, which the engine server serves at "/".
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const appRoot = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: appRoot,
  // Relative asset URLs: the same build works at "/", behind a prefix and inside Electron.
  base: "./",
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("../dist/app", import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npx vite --config app/vite.config.ts` with `maskflow serve` running: API calls go to it.
    proxy: {
      "/api": { target: "http://127.0.0.1:8188", ws: true },
    },
  },
});
