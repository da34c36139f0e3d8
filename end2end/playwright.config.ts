// Playwright runs against three real `sluice` servers built by deploy/test: one on the
// embedded sandbox cluster, one pointed at a cluster that does not answer, and one whose
// Prometheus is the large synthetic mesh of server/examples/bench_topology.rs (500
// services). The browser is Debian's Chromium (Playwright cannot download its own here).
import { defineConfig } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const bin = process.env.SLUICE_BIN;
const site = process.env.SLUICE_SITE_ROOT;
const fixture = process.env.SLUICE_FIXTURE_BIN;
if (!bin || !site || !fixture) {
  throw new Error('SLUICE_BIN, SLUICE_SITE_ROOT and SLUICE_FIXTURE_BIN must be set: run the tests with deploy/test');
}

// Workers re-read this file; the run directory is created once and inherited via env.
process.env.SLUICE_E2E_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-e2e-'));
const runDir = process.env.SLUICE_E2E_DIR;

// A kubeconfig whose API server address has nothing listening (port 9, "discard").
export const unreachableKubeconfig = path.join(runDir, 'unreachable-kubeconfig');
fs.writeFileSync(
  unreachableKubeconfig,
  `apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster:
    server: https://127.0.0.1:9
contexts:
- name: lab
  context:
    cluster: lab
    user: lab
users:
- name: lab
  user:
    token: not-a-real-token
`,
);

const SANDBOX_PORT = 3100;
const UNREACHABLE_PORT = 3101;
const LARGE_MESH_PORT = 3102;
const LARGE_MESH_PROMETHEUS = 3192;
// Consoles with a sign-in, each on a sandbox of its own (see tests/auth-*.spec.ts).
export const TOKEN_PORT = 3103;
export const HEADER_PORT = 3104;
// The authenticating proxy in front of the header console, and the address it connects
// from: the only one the console believes identity headers from.
export const HEADER_PROXY_PORT = 3106;
const HEADER_PROXY_SOURCE = '127.0.0.2';
export const OPENID_PORT = 3105;
export const OIDC_PROVIDER_PORT = 3190;
export const TOKEN_INGRESS_PORT = 3183;
const oidcSecret = path.join(runDir, 'oidc-client-secret');
if (!fs.existsSync(oidcSecret)) {
  fs.writeFileSync(oidcSecret, 'e2e-' + Math.random().toString(36).slice(2), { mode: 0o600 });
}
// Consoles that need no metrics point at a Prometheus that is not there (port 9).
const NO_METRICS = '--prometheus-url http://127.0.0.1:9 --sandbox-load-rps 0 --sandbox-ingress-addr 127.0.0.1:0';
// The sandbox mesh's ingress, where "Click to visit" opens Bookinfo.
export const SANDBOX_INGRESS_PORT = 3180;

function server(port: number, args: string) {
  return {
    command: `${bin} --addr 127.0.0.1:${port} --site-root ${site} ${args}`,
    url: `http://127.0.0.1:${port}/healthz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'pipe' as const,
    stderr: 'pipe' as const,
  };
}

export default defineConfig({
  testDir: './tests',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  timeout: 60_000,
  expect: { timeout: 15_000 },
  use: {
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
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
  projects: [
    {
      name: 'sandbox',
      testIgnore: /unreachable|large-graph|auth-/,
      use: { baseURL: `http://127.0.0.1:${SANDBOX_PORT}` },
    },
    {
      name: 'unreachable-cluster',
      testMatch: /unreachable/,
      use: { baseURL: `http://127.0.0.1:${UNREACHABLE_PORT}` },
    },
    {
      name: 'large-mesh',
      testMatch: /large-graph/,
      use: { baseURL: `http://127.0.0.1:${LARGE_MESH_PORT}` },
    },
    {
      name: 'sign-in-token',
      testMatch: /auth-token/,
      use: { baseURL: `http://127.0.0.1:${TOKEN_PORT}` },
    },
    {
      name: 'sign-in-header',
      testMatch: /auth-header/,
      use: { baseURL: `http://127.0.0.1:${HEADER_PROXY_PORT}` },
    },
    {
      name: 'sign-in-openid',
      testMatch: /auth-openid/,
      use: { baseURL: `http://127.0.0.1:${OPENID_PORT}` },
    },
  ],
  webServer: [
    server(
      SANDBOX_PORT,
      // Live-update streams end every 10 s so tests see pages fall back and reconnect.
      `--sandbox --data-dir ${path.join(runDir, 'sandbox')} --sandbox-ingress-addr 127.0.0.1:${SANDBOX_INGRESS_PORT} --push-max-connection-seconds 10`,
    ),
    server(
      UNREACHABLE_PORT,
      `--kubeconfig ${unreachableKubeconfig} --data-dir ${path.join(runDir, 'unreachable')}`,
    ),
    {
      command: `${fixture} --serve 127.0.0.1:${LARGE_MESH_PROMETHEUS} --services 500 --project bench`,
      url: `http://127.0.0.1:${LARGE_MESH_PROMETHEUS}/-/ready`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: 'pipe' as const,
      stderr: 'pipe' as const,
    },
    server(
      TOKEN_PORT,
      `--sandbox --auth token --data-dir ${path.join(runDir, 'token')} --sandbox-ingress-addr 127.0.0.1:${TOKEN_INGRESS_PORT}`,
    ),
    server(
      HEADER_PORT,
      `--sandbox --auth header --auth-trusted-proxy ${HEADER_PROXY_SOURCE} --public-url http://127.0.0.1:${HEADER_PROXY_PORT} --auth-header-signout-url /oauth2/sign_out --data-dir ${path.join(runDir, 'header')} ${NO_METRICS}`,
    ),
    {
      command: `node proxy/auth-proxy.mjs`,
      env: {
        PROXY_PORT: String(HEADER_PROXY_PORT),
        PROXY_SOURCE_ADDR: HEADER_PROXY_SOURCE,
        UPSTREAM: `http://127.0.0.1:${HEADER_PORT}`,
      },
      url: `http://127.0.0.1:${HEADER_PROXY_PORT}/oauth2/sign_in`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: 'pipe' as const,
      stderr: 'pipe' as const,
    },
    {
      command: `node oidc/provider.mjs`,
      env: {
        OIDC_PORT: String(OIDC_PROVIDER_PORT),
        OIDC_REDIRECT_URI: `http://127.0.0.1:${OPENID_PORT}/auth/callback`,
        OIDC_CLIENT_SECRET: fs.readFileSync(oidcSecret, 'utf8'),
      },
      url: `http://127.0.0.1:${OIDC_PROVIDER_PORT}/.well-known/openid-configuration`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: 'pipe' as const,
      stderr: 'pipe' as const,
    },
    server(
      OPENID_PORT,
      `--sandbox --auth openid --oidc-issuer http://127.0.0.1:${OIDC_PROVIDER_PORT} --oidc-client-id sluice --oidc-client-secret-file ${oidcSecret} --data-dir ${path.join(runDir, 'openid')} ${NO_METRICS}`,
    ),
    server(
      LARGE_MESH_PORT,
      `--sandbox --data-dir ${path.join(runDir, 'large-mesh')} --sandbox-ingress-addr 127.0.0.1:0 --sandbox-load-rps 0 --prometheus-url http://127.0.0.1:${LARGE_MESH_PROMETHEUS}`,
    ),
  ],
});
