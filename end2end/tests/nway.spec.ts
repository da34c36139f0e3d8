// More than two versions, as Kiali's traffic shifting does it: reviews v1, an existing v2
// and the new v3 share the traffic with one control per version and locks, from the keyboard;
// the product page and kubectl follow; the job page moves every share at once and shows
// the observed split per version.
import { expect, test, type Page } from '@playwright/test';
import { hydrated, kubectl, kubectlWithInput } from './env';
import { bookinfoIn } from './tutorial';

const INGRESS = 3180;

async function pagesByVersion(page: Page, project: string, n: number) {
  await page.goto(`http://bookinfo.${project}.localhost:${INGRESS}/productpage?u=normal`);
  return page.evaluate(async (n) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const html = await (await fetch('/productpage?u=normal')).text();
      const v = /data-reviews-version="([^"]+)"/.exec(html)?.[1] ?? 'none';
      counts[v] = (counts[v] ?? 0) + 1;
    }
    return counts;
  }, n);
}

function expectShare(observed: number, n: number, p: number, what: string) {
  const tol = 5 * Math.sqrt((p * (1 - p)) / n);
  expect(Math.abs(observed / n - p), `${what}: ${observed}/${n}, expected ${p} ± ${tol.toFixed(3)}`).toBeLessThanOrEqual(tol);
}

test('N-way split: v1, v2 and the new v3 with locks and the keyboard, then every share moved on the job page', async ({ page, request }) => {
  test.setTimeout(120_000);
  const project = 'nway-e2e';
  await bookinfoIn(request, project);
  // reviews-v2 beside v1 (both serve today), as in Istio's Bookinfo.
  const v1 = JSON.parse(kubectl('get', 'deployment', 'reviews-v1', '-n', project, '-o', 'json'));
  const v2 = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'reviews-v2', namespace: project, labels: { app: 'reviews', version: 'v2' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'reviews', version: 'v2' } },
      template: {
        metadata: { labels: { ...v1.spec.template.metadata.labels, version: 'v2' } },
        spec: { ...v1.spec.template.spec, containers: [{ ...v1.spec.template.spec.containers[0], image: 'docker.io/istio/examples-bookinfo-reviews-v2:1.20.3' }] },
      },
    },
  };
  kubectlWithInput(JSON.stringify(v2), 'apply', '-f', '-');
  await expect
    .poll(() => JSON.parse(kubectl('get', 'deployment', 'reviews-v2', '-n', project, '-o', 'json')).status?.readyReplicas ?? 0, { timeout: 30_000 })
    .toBe(1);

  // The wizard: release v3 from v1, and split across every version.
  await page.goto(`/grayscale-release?project=${project}`);
  await hydrated(page);
  await page.locator('.mode-card', { hasText: 'Canary Release' }).getByRole('link', { name: 'Create Job' }).click();
  await hydrated(page);
  await page.locator('input[name="job-name"]').fill('three-way');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('input[name="component"][value="reviews"]').check();
  await page.getByLabel('Version serving today').selectOption('reviews-v1');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.locator('input[name="version"]')).toHaveValue('v3');
  await page.locator('input[name="image"]').fill('docker.io/istio/examples-bookinfo-reviews-v3:1.20.3');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Split across every version (v1, v3, v2)').check();
  const editor = page.getByTestId('weights-editor');
  await expect(editor.getByTestId('share-v1')).toHaveText('50%');
  await expect(editor.getByTestId('share-v3')).toHaveText('50%');
  await expect(editor.getByTestId('share-v2')).toHaveText('0%');

  // Lock v3, then give v2 30% with the arrow keys: only v1 makes room.
  await editor.getByLabel('Lock v3').check();
  await expect(editor.getByLabel('Traffic to v3 (%)')).toBeDisabled();
  await editor.getByLabel('Traffic to v2 (%)').focus();
  for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowRight');
  await expect(editor.getByTestId('share-v2')).toHaveText('30%');
  await expect(editor.getByTestId('share-v3')).toHaveText('50%');
  await expect(editor.getByTestId('share-v1')).toHaveText('20%');
  // Swap the lock to v2 and type v3's share: v1 takes the rest.
  await editor.getByLabel('Lock v3').uncheck();
  await editor.getByLabel('Lock v2').check();
  await editor.getByLabel('v3 share (%)').fill('20');
  await editor.getByLabel('v3 share (%)').press('Tab');
  await expect(editor.getByTestId('share-v1')).toHaveText('50%');
  await expect(editor.getByTestId('share-v3')).toHaveText('20%');
  await expect(editor.getByTestId('share-v2')).toHaveText('30%');
  await expect(editor.getByTestId('weights-total')).toHaveText('Total 100%');

  await page.getByRole('button', { name: 'Next' }).click();
  const vs = page.locator('details.yaml[data-kind="VirtualService"] pre');
  await expect(vs).toContainText('subset: v2');
  await expect(vs).toContainText('weight: 30');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/grayscale-release\/jobs\/three-way\?/);
  await hydrated(page);
  await expect(page.getByTestId('phase')).toHaveText('Live', { timeout: 30_000 });
  await expect(page.getByTestId('job-message')).toContainText('v1 50% / v3 20% / v2 30%');
  await expect(page.locator('[data-version="v2"] [data-testid="share"]')).toHaveText('30%');
  const routes = () => JSON.parse(kubectl('get', 'virtualservices.networking.istio.io', 'reviews', '-n', project, '-o', 'json'))
    .spec.http[0].route.map((r: any) => [r.destination.subset, r.weight]);
  expect(routes()).toEqual([['v1', 50], ['v3', 20], ['v2', 30]]);

  const product = await page.context().newPage();
  const counts = await pagesByVersion(product, project, 300);
  expectShare(counts['v1'] ?? 0, 300, 0.5, 'v1');
  expectShare(counts['v3'] ?? 0, 300, 0.2, 'v3');
  expectShare(counts['v2'] ?? 0, 300, 0.3, 'v2');

  // The live panel: Prometheus sees each version's share.
  const observed = page.getByTestId('observed-split');
  for (const v of ['v1', 'v2', 'v3']) {
    await expect(observed).toContainText(new RegExp(`${v} \\d+(\\.\\d)?%`), { timeout: 45_000 });
  }
  await expect(observed).toContainText('configured: v1 50% · v3 20% · v2 30%');

  // The job page's control: v2 locked, v3 to 60%, v1 makes room.
  const control = page.getByTestId('weights-editor');
  await control.getByLabel('Lock v2').check();
  await control.getByLabel('v3 share (%)').fill('60');
  await control.getByLabel('v3 share (%)').press('Tab');
  await expect(page.getByTestId('job-message')).toContainText('v1 10% / v3 60% / v2 30%', { timeout: 15_000 });
  expect(routes()).toEqual([['v1', 10], ['v3', 60], ['v2', 30]]);
});
