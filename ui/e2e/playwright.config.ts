// Browser tests against a running `lacuna serve` (scripts/test-e2e.sh starts it and sets
// LACUNA_URL / LACUNA_TOKEN). Debian's chromium, not Playwright's download.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.ts/,
  timeout: 120_000,
  workers: 1,
  reporter: [['list']],
  outputDir: '../../target/test-artifacts/e2e',
  use: {
    baseURL: process.env.LACUNA_URL,
    viewport: { width: 1400, height: 900 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
