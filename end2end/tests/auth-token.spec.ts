// Sign-in with a Kubernetes token (`--auth token`) on a console of its own sandbox, whose
// demo users are alice (sluice-release-operator in demo-project) and bob (sluice-viewer).
// Every call is made as the signed-in user, so Kubernetes RBAC decides: alice runs the
// tutorial's release, bob watches it with every change disabled, and kubectl shows
// alice as the job's creator.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { demoToken, hydrated, kubectlOn } from './env';
import { canaryRelease, confirm, deploySampleApp, expectJobReadOnly, forceSliderChange } from './tutorial';

const PROJECT = 'demo-project';
const INGRESS = 3183;

async function signIn(browser: Browser, user: string, javaScriptEnabled = true): Promise<Page> {
  const context = await browser.newContext({ javaScriptEnabled });
  const page = await context.newPage();
  await page.goto(`/grayscale-release?project=${PROJECT}`);
  // Nobody is signed in: the console sends the browser to sign in, and back afterwards.
  await expect(page).toHaveURL(/\/signin\?next=%2Fgrayscale-release%3Fproject%3Ddemo-project$/);
  await page.locator('textarea[name="token"]').fill(demoToken('token', user));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(new RegExp(`/grayscale-release\\?project=${PROJECT}$`));
  await expect(page.getByTestId('viewer-name')).toHaveText(user);
  if (javaScriptEnabled) await hydrated(page);
  return page;
}

test('a wrong token is refused with a clear message, and nothing is reachable signed out', async ({ page, request }) => {
  await page.goto('/signin');
  await page.locator('textarea[name="token"]').fill('not-a-token-kubernetes-knows');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('sign-in-error')).toContainText('Kubernetes did not accept this token (401)');
  await expect(page.getByTestId('sign-in-error')).toContainText('kubectl create token');
  // The sandbox says where the demo users' tokens are.
  await expect(page.locator('.sandbox-hint')).toContainText('alice.kubeconfig');
  const res = await request.get(`/api/list_release_jobs?project=${PROJECT}`);
  expect(res.status()).toBe(401);
  expect(await res.json()).toEqual({ Unauthenticated: expect.stringContaining('not signed in') });
});

test('alice releases, bob watches: RBAC decides, and kubectl shows alice as the creator', async ({ browser }) => {
  test.setTimeout(240_000);
  const alice = await signIn(browser, 'alice');

  // Tasks 1-3 of the tutorial as alice: Deploy Sample Application, the canary release.
  await deploySampleApp(alice, PROJECT);
  await canaryRelease(alice, PROJECT);

  // The creator is who Kubernetes knows the caller as, not anything the browser said.
  expect(kubectlOn('token', 'get', 'releasejobs', 'canary-release', '-n', PROJECT, '-o', 'jsonpath={.spec.creator}')).toBe('alice');
  expect(kubectlOn('token', 'get', 'releasejobs', '-n', PROJECT)).toMatch(/canary-release\s+reviews\s+v1\s+v2\s+trafficRatio\s+Live\s+alice/);
  // And RBAC as kube-apiserver answers it.
  expect(kubectlOn('token', 'auth', 'can-i', 'update', 'releasejobs.sluice.dev', '-n', PROJECT, '--as', 'alice').trim()).toBe('yes');
  expect(() => kubectlOn('token', 'auth', 'can-i', 'update', 'releasejobs.sluice.dev', '-n', PROJECT, '--as', 'bob')).toThrow();

  // bob, signed in at the same time, sees the job and its charts, and may change nothing.
  const bob = await signIn(browser, 'bob');
  await expect(bob.locator('tr[data-job="canary-release"]')).toContainText('alice');
  const createJob = bob.locator('.mode-card', { hasText: 'Canary Release' }).getByRole('button', { name: 'Create Job' });
  await expect(createJob).toBeDisabled();
  await expect(bob.getByTestId('denied').first()).toContainText('bob may not create release jobs in demo-project');
  await bob.locator('tr[data-job="canary-release"] a').click();
  await expect(bob).toHaveURL(/\/grayscale-release\/jobs\/canary-release\?/);
  await hydrated(bob);
  await expect(bob.getByTestId('phase')).toHaveText('Live');
  await expect(bob.locator('[data-version="v2"] [data-testid="share"]')).toHaveText('50%');
  await expectJobReadOnly(bob);
  await expect(bob.locator('.charts .chart svg')).toHaveCount(3, { timeout: 45_000 });

  // A request bob forces anyway is refused by Kubernetes, and the message names the
  // permission.
  const forced = await forceSliderChange(bob, PROJECT, 'canary-release', 100);
  expect(forced.status, forced.body).toBe(403);
  expect(forced.body).toContain('You are signed in as bob');
  expect(forced.body).toContain('cannot update resource \\"releasejobs\\" in API group \\"sluice.dev\\"');
  await expect(alice.locator('[data-version="v2"] [data-testid="share"]')).toHaveText('50%');

  // alice drags the slider; bob's page follows on its next refresh.
  await alice.getByRole('slider').fill('70');
  await expect(alice.getByTestId('job-message')).toContainText('v1 30% / v2 70%', { timeout: 15_000 });
  await bob.reload();
  await expect(bob.locator('[data-version="v2"] [data-testid="share"]')).toHaveText('70%');

  // Take Over and Job Offline, as alice.
  await confirm(alice, 'Take Over (v2)');
  await expect(alice.getByTestId('phase')).toHaveText('TakenOver', { timeout: 15_000 });
  await confirm(alice, 'Job Offline');
  await expect(alice).toHaveURL(new RegExp(`/grayscale-release\\?project=${PROJECT}$`));
  await expect.poll(() => kubectlOn('token', 'get', 'deployments', '-n', PROJECT, '-o', 'name').split('\n').filter(Boolean).sort(), { timeout: 15_000 })
    .toEqual(['deployment.apps/details-v1', 'deployment.apps/productpage-v1', 'deployment.apps/ratings-v1', 'deployment.apps/reviews-v2']);
  const product = await alice.context().newPage();
  await product.goto(`http://bookinfo.${PROJECT}.localhost:${INGRESS}/productpage`);
  await expect(product.locator('.reviews')).toHaveAttribute('data-reviews-version', 'v2');

  // Sign out: the session ends, the page goes back to sign-in, the API answers 401.
  for (const page of [alice, bob]) {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/signin\?signed_out=1$/);
    await expect(page.getByRole('status')).toHaveText('You have signed out.');
    const res = await page.request.get(`/api/list_release_jobs?project=${PROJECT}`);
    expect(res.status()).toBe(401);
    await page.goto('/applications');
    await expect(page).toHaveURL(/\/signin\?next=%2Fapplications$/);
  }
});

test('signing in and out works without JavaScript', async ({ browser }) => {
  const bob = await signIn(browser, 'bob', false);
  await expect(bob.locator('.mode-card', { hasText: 'Canary Release' }).getByRole('button', { name: 'Create Job' })).toBeDisabled();
  await bob.getByRole('button', { name: 'Sign out' }).click();
  await expect(bob).toHaveURL(/\/signin\?signed_out=1$/);
  const cookies = await bob.context().cookies();
  expect(cookies.filter((c) => c.name === 'sluice_session' && c.value !== '')).toEqual([]);
});
