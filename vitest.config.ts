import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

const shared = {
  globalSetup: ["test/global-setup.ts"],
  // Node packages in the developer's own folders must not change what the tests see; tests that
  // load packages name them. Servers the tests start keep no run history on the developer's disk.
  env: { MASKFLOW_NODES: "", MASKFLOW_NODES_DIR: join(tmpdir(), "maskflow-tests-no-user-nodes"), MASKFLOW_HISTORY: "off" },
  testTimeout: 180_000,
  hookTimeout: 120_000,
  // The model tests load ONNX sessions; two cores do not gain from more parallel files.
  maxWorkers: 2,
};

// Two projects so that only runs with browser tests in them look for (or unpack) a Chromium.
export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: "unit", include: ["test/**/*.test.ts", "test/**/*.test.tsx"], exclude: ["test/browser/**", "**/node_modules/**"] } },
      { test: { ...shared, name: "browser", include: ["test/browser/**/*.test.ts"], globalSetup: [...shared.globalSetup, "test/browser/global-setup.ts"] } },
    ],
  },
});
