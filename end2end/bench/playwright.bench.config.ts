// The browser benchmark of the topology graph (deploy/bench-topology starts the fixture
// Prometheus and the console for each size, then runs this with BENCH_URL and
// BENCH_SERVICES set). It prints figures; it asserts only that the graph was drawn.
import { defineConfig } from '@playwright/test';

const url = process.env.BENCH_URL;
if (!url) {
  throw new Error('BENCH_URL must be set: run the benchmark with deploy/bench-topology');
}

export default defineConfig({
  testDir: '.',
  testMatch: /topology\.bench\.ts/,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  timeout: 600_000,
  expect: { timeout: 180_000 },
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
