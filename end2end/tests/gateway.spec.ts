// A canary release on Gateway API, as a person makes it in the wizard: "Gateway API
// HTTPRoute" routing, the YAML review showing the HTTPRoute and a Service per version, the
// product page following the route and the slider, Take Over and Job Offline; kubectl
// checks what was written.
import { expect, test, type Page } from '@playwright/test';
import { hydrated, kubectl } from './env';
import { bookinfoIn, confirm, wizard } from './tutorial';

const INGRESS = 3180;

/// How many of `n` product pages were served with reviews v2.
async function v2Pages(page: Page, project: string, n: number) {
  await page.goto(`http://bookinfo.${project}.localhost:${INGRESS}/productpage?u=normal`);
  return page.evaluate(async (n) => {
    let v2 = 0;
    for (let i = 0; i < n; i++) {
      const html = await (await fetch('/productpage?u=normal')).text();
      if (/data-reviews-version="v2"/.test(html)) v2++;
    }
    return v2;
  }, n);
}

function expectShare(observed: number, n: number, p: number) {
  const tol = 5 * Math.sqrt((p * (1 - p)) / n);
  expect(Math.abs(observed / n - p), `share ${observed}/${n}, expected ${p} ± ${tol.toFixed(3)}`).toBeLessThanOrEqual(tol);
}

function backendRefs(project: string) {
  const route = JSON.parse(kubectl('get', 'httproutes.gateway.networking.k8s.io', 'reviews', '-n', project, '-o', 'json'));
  return route.spec.rules.at(-1).backendRefs.map((b: any) => [b.name, b.weight]);
}

test('canary on a Gateway API HTTPRoute: review, split, slider, Take Over, Job Offline', async ({ page, request }) => {
  const project = 'gateway-e2e';
  await bookinfoIn(request, project);
  await wizard(page, project, 'Canary Release', 'gateway-canary', 'reviews', 'kubesphere/examples-bookinfo-reviews-v2:1.13.0');

  // The strategy step: the routing is a choice, and says what it writes.
  const routing = page.getByRole('group', { name: 'Routing' });
  await expect(routing.getByLabel('Istio VirtualService')).toBeChecked();
  await routing.getByLabel('Gateway API HTTPRoute').check();
  await expect(routing).toContainText('An HTTPRoute attached to Service reviews with a Service per version');
  await page.getByRole('slider').fill('30');
  await expect(page.getByTestId('new-share')).toHaveText('v2 30%');

  // The review shows exactly that.
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.locator('.routing-used')).toHaveText('Routing: Gateway API HTTPRoute');
  const route = page.locator('details.yaml[data-kind="HTTPRoute"] pre');
  await expect(route).toBeVisible();
  await expect(route).toContainText('parentRefs');
  await expect(route).toContainText('name: reviews-v2');
  await expect(page.locator('details.yaml[data-kind="Service"]')).toHaveCount(2);
  await expect(page.locator('details.yaml[data-kind="VirtualService"]')).toHaveCount(0);
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/grayscale-release\/jobs\/gateway-canary\?/);
  await hydrated(page);

  await expect(page.getByTestId('phase')).toHaveText('Live', { timeout: 30_000 });
  await expect(page.getByTestId('job-routing')).toHaveText('Routing: Gateway API HTTPRoute');
  expect(backendRefs(project)).toEqual([['reviews-v1', 70], ['reviews-v2', 30]]);
  const v2Service = JSON.parse(kubectl('get', 'service', 'reviews-v2', '-n', project, '-o', 'json'));
  expect(v2Service.spec.selector).toEqual({ app: 'reviews', version: 'v2' });
  expect(kubectl('get', 'virtualservices.networking.istio.io', '-n', project, '-o', 'name')).not.toContain('/reviews');

  const product = await page.context().newPage();
  expectShare(await v2Pages(product, project, 200), 200, 0.3);

  await page.getByRole('slider').fill('80');
  await expect(page.getByTestId('job-message')).toContainText('v1 20% / v2 80%', { timeout: 15_000 });
  expect(backendRefs(project)).toEqual([['reviews-v1', 20], ['reviews-v2', 80]]);
  expectShare(await v2Pages(product, project, 200), 200, 0.8);

  await confirm(page, 'Take Over (v2)');
  await expect(page.getByTestId('phase')).toHaveText('TakenOver', { timeout: 15_000 });
  expect(await v2Pages(product, project, 30)).toBe(30);

  await confirm(page, 'Job Offline');
  await expect(page).toHaveURL(new RegExp(`/grayscale-release\\?project=${project}$`));
  await expect.poll(() => JSON.parse(kubectl('get', 'services', '-n', project, '-o', 'json')).items.map((s: any) => s.metadata.name).sort(), { timeout: 15_000 })
    .toEqual(['details', 'productpage', 'ratings', 'reviews', 'reviews-v2']);
  await expect.poll(() => JSON.parse(kubectl('get', 'deployments', '-n', project, '-o', 'json')).items.map((d: any) => d.metadata.name).sort(), { timeout: 15_000 })
    .toEqual(['details-v1', 'productpage-v1', 'ratings-v1', 'reviews-v2']);
  expect(backendRefs(project)).toEqual([['reviews-v2', 100]]);
  expect(await v2Pages(product, project, 20)).toBe(20);
});
