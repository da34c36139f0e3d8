// The browser benchmark of big traces (deploy/bench-traces starts the fixture Jaeger and
// the console, then runs this with BENCH_URL set). It prints figures; it asserts only
// that the trace was drawn.
import { defineConfig } from '@playwright/test';

const url = process.env.BENCH_URL;
if (!url) {
  throw new Error('BENCH_URL must be set: run the benchmark with deploy/bench-traces');
}

export default defineConfig({
  testDir: '.',
  testMatch: /traces\.bench\.ts/,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  timeout: 600_000,
  expect: { timeout: 120_000 },
  use: {
    baseURL: url,
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
    },
  },
});
