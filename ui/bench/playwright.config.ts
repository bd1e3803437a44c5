// The UI benchmark (scripts/bench-ui.sh): not part of the test suite.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.bench\.ts/,
  timeout: 600_000,
  workers: 1,
  reporter: [['list']],
  outputDir: '../../target/bench/ui-artifacts',
  use: {
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
});
