import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // The model tests load ONNX sessions; two cores do not gain from more parallel files.
    maxWorkers: 2,
  },
});
