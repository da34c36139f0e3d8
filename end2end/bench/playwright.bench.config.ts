// The browser benchmarks: deploy/bench-topology (topology.bench.ts) and deploy/bench-traces
// (traces.bench.ts) start a fixture backend and the console, then run one spec with
// BENCH_URL set. They print figures; they assert only that the graph or trace was drawn.
import { defineConfig } from '@playwright/test';

const url = process.env.BENCH_URL;
if (!url) {
  throw new Error('BENCH_URL must be set: run the benchmarks with deploy/bench-topology or deploy/bench-traces');
}

export default defineConfig({
  testDir: '.',
  testMatch: /\.bench\.ts$/,
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
