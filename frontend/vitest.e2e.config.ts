import { defineConfig } from 'vitest/config'

// Browser tests: real Chromium against the real server and the Bedrock emulator (see e2e/).
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    environment: 'node',
    globalSetup: ['./e2e/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // One browser, one server: files run one after another, which also keeps a 2-core CI calm.
    fileParallelism: false,
  },
})
