// Sign-in with OpenID Connect (`--auth openid`) against a real provider run locally
// (npm's oidc-provider, end2end/oidc/provider.mjs): the authorization code flow with PKCE,
// the ID token verified against the provider's keys, and the console acting as the ID
// token's user and groups (impersonated), so Kubernetes RBAC decides.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { hydrated, kubectlOn } from './env';
import { canaryRelease, deploySampleApp, expectJobReadOnly } from './tutorial';

const PROJECT = 'demo-project';

async function signIn(browser: Browser, user: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`/grayscale-release?project=${PROJECT}`);
  await expect(page).toHaveURL(/\/signin\?next=/);
  await page.getByTestId('openid-sign-in').click();
  // The provider's own pages: its development login (any name) and the consent.
  await expect(page).toHaveURL(/127\.0\.0\.1:3190\/interaction\//);
  await page.locator('input[name="login"]').fill(user);
  await page.locator('input[name="password"]').fill('any');
  await page.locator('button[type="submit"]').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL(new RegExp(`/grayscale-release\\?project=${PROJECT}$`));
  await expect(page.getByTestId('viewer-name')).toHaveText(user);
  await hydrated(page);
  return page;
}

test('signing in with the provider, acting as its user, and signing out', async ({ browser }) => {
  test.setTimeout(120_000);
  const alice = await signIn(browser, 'alice');
  // The groups come from the ID token.
  await expect(alice.getByTestId('viewer')).toHaveAttribute('title', 'Kubernetes user alice (groups: release-managers, developers)');
  // Kubernetes decides with alice's own rights: she may release in demo-project, and the
  // job is recorded as hers.
  await deploySampleApp(alice, PROJECT);
  await canaryRelease(alice, PROJECT);
  expect(kubectlOn('openid', 'get', 'releasejobs', 'canary-release', '-n', PROJECT, '-o', 'jsonpath={.spec.creator}')).toBe('alice');

  // bob sees the job and may not change it.
  const bob = await signIn(browser, 'bob');
  await expect(bob.locator('.mode-card', { hasText: 'Canary Release' }).getByRole('button', { name: 'Create Job' })).toBeDisabled();
  await expect(bob.getByTestId('denied').first()).toContainText('bob may not create release jobs in demo-project');
  await bob.locator('tr[data-job="canary-release"] a').click();
  await hydrated(bob);
  await expectJobReadOnly(bob);

  for (const page of [alice, bob]) {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/signin\?signed_out=1$/);
    const res = await page.request.get(`/api/list_release_jobs?project=${PROJECT}`);
    expect(res.status()).toBe(401);
  }
});

test('an answer that does not belong to this browser\'s sign-in is refused', async ({ page }) => {
  // A callback with a code and state this browser never asked for (a login CSRF).
  await page.goto('/auth/callback?code=stolen&state=forged');
  await expect(page).toHaveURL(/\/signin\?error=/);
  await expect(page.getByTestId('sign-in-error')).toContainText('started in another browser');
});
