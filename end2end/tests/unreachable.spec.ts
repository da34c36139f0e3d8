// A console whose cluster does not answer: it keeps serving and every page says what it
// tried, the error, and how to fix it.
import { expect, test } from '@playwright/test';

for (const path of ['/applications', '/grayscale-release', '/traffic-management', '/tracing', '/nope']) {
  test(`${path} explains the unreachable cluster`, async ({ page }) => {
    await page.goto(path);
    const banner = page.locator('.cluster-banner');
    await expect(banner).toBeVisible();
    await expect(banner.getByRole('heading')).toHaveText('The Kubernetes cluster is not reachable');
    await expect(banner).toContainText('unreachable-kubeconfig');
    await expect(banner).toContainText('context "lab"');
    await expect(banner).toContainText('https://127.0.0.1:9');
    await expect(banner).toContainText(/connect|refused/i);
    await expect(banner).toContainText('How to fix');
    await expect(page.locator('.backend-chips')).toContainText('No cluster');
    await expect(page.locator('.selector-error')).toHaveText('Projects unavailable');
  });
}

test('readyz is 503 with the reason, healthz stays 200', async ({ request }) => {
  expect((await request.get('/healthz')).status()).toBe(200);
  const ready = await request.get('/readyz');
  expect(ready.status()).toBe(503);
  const text = await ready.text();
  expect(text).toContain('not reachable');
  expect(text).toContain('fix:');
});

test('the server function answers 503 with a typed error', async ({ request }) => {
  const res = await request.get('/api/list_projects');
  expect(res.status()).toBe(503);
  const body = await res.json();
  expect(body.Cluster.kind).toBe('Unreachable');
  expect(body.Cluster.target.server).toBe('https://127.0.0.1:9');
});

test('Tracing without Jaeger says which flag to set; the rest of the page still works', async ({ page }) => {
  await page.goto('/tracing?project=demo&service=productpage.demo');
  const panel = page.getByRole('region', { name: 'Traces' }).getByRole('alert');
  await expect(panel).toContainText('Jaeger');
  await expect(panel).toContainText('--jaeger-url');
  // The search form is still there, with the service as typed, and the navigation works.
  await expect(page.locator('input[name="service"]')).toHaveValue('productpage.demo');
  await page.getByRole('link', { name: 'Grayscale Release' }).click();
  await expect(page).toHaveURL(/\/grayscale-release/);
});
