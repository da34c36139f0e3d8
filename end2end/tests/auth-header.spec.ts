// Sign-in through an authenticating proxy (`--auth header`), as behind oauth2-proxy: the
// proxy (end2end/proxy/auth-proxy.mjs) signs people in and names them in
// X-Forwarded-User/-Groups; the console believes those headers only from the proxy's
// address (127.0.0.2) and makes every Kubernetes call impersonating that user, so RBAC
// decides. The tests open the console at the proxy's address, as its users do.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { hydrated, kubectlOn } from './env';
import { canaryRelease, deploySampleApp, expectJobReadOnly, forceSliderChange } from './tutorial';

const PROJECT = 'demo-project';
// The console itself (the tests' baseURL is the proxy in front of it).
const HEADER_PORT = 3104;

async function signIn(browser: Browser, user: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`/grayscale-release?project=${PROJECT}`);
  // The proxy, not the console, asks who this is.
  await expect(page).toHaveURL(/\/oauth2\/sign_in\?rd=/);
  await page.locator('input[name="username"]').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(new RegExp(`/grayscale-release\\?project=${PROJECT}$`));
  await expect(page.getByTestId('viewer-name')).toHaveText(user);
  await hydrated(page);
  return page;
}

test('identity headers are believed only from the proxy', async ({ playwright }) => {
  // Straight to the console, as someone who found its address: headers naming alice
  // come from 127.0.0.1, not from the proxy, and are refused.
  const direct = await playwright.request.newContext({ baseURL: `http://127.0.0.1:${HEADER_PORT}` });
  const forged = await direct.get(`/api/list_release_jobs?project=${PROJECT}`, {
    headers: { 'x-forwarded-user': 'alice', 'x-forwarded-groups': 'system:masters' },
  });
  expect(forged.status()).toBe(403);
  expect(await forged.text()).toContain('not a trusted proxy');
  // Without the headers the request did not pass the proxy: nothing is reachable.
  const anonymous = await direct.get(`/api/list_release_jobs?project=${PROJECT}`);
  expect(anonymous.status()).toBe(401);
  expect(await anonymous.text()).toContain("through your organisation's proxy");
  const page = await direct.get('/grayscale-release', { maxRedirects: 0 });
  expect(page.status()).toBe(303);
  expect(page.headers()['location']).toBe('/signin?next=%2Fgrayscale-release');
  await direct.dispose();
});

test('alice releases through the proxy, bob only watches, sign-out goes through the proxy', async ({ browser }) => {
  test.setTimeout(180_000);
  const alice = await signIn(browser, 'alice');
  await expect(alice.getByTestId('viewer')).toHaveAttribute('title', 'Kubernetes user alice (groups: release-managers)');
  await deploySampleApp(alice, PROJECT);
  await canaryRelease(alice, PROJECT);
  // Made as alice (impersonated), and recorded as hers.
  expect(kubectlOn('header', 'get', 'releasejobs', 'canary-release', '-n', PROJECT, '-o', 'jsonpath={.spec.creator}')).toBe('alice');

  const bob = await signIn(browser, 'bob');
  const createJob = bob.locator('.mode-card', { hasText: 'Canary Release' }).getByRole('button', { name: 'Create Job' });
  await expect(createJob).toBeDisabled();
  await bob.locator('tr[data-job="canary-release"] a').click();
  await hydrated(bob);
  await expectJobReadOnly(bob);
  const forced = await forceSliderChange(bob, PROJECT, 'canary-release', 100);
  expect(forced.status, forced.body).toBe(403);
  expect(forced.body).toContain('You are signed in as bob');

  // "Sign out" is the proxy's sign-out: afterwards the proxy asks again, and nothing of
  // the console is reachable through it.
  await bob.getByRole('link', { name: 'Sign out' }).click();
  await expect(bob).toHaveURL(/\/oauth2\/sign_in\?signed_out=1$/);
  const res = await bob.request.get(`/api/list_release_jobs?project=${PROJECT}`, { maxRedirects: 0 });
  expect(res.status()).toBe(302);
  expect(res.headers()['location']).toMatch(/^\/oauth2\/sign_in/);
});
