// The tutorial's "View Tracing Details" against the sandbox's Jaeger API: search the traces
// of productpage, open one, follow productpage → details and reviews (→ ratings for v2),
// and click a span to see the pod that served it, which kubectl agrees exists. Trace data
// is untrusted: a request whose User-Agent carries markup shows it as text.
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import * as http from 'http';
import { hydrated, kubectl, kubectlWithInput, sameOrigin } from './env';

const INGRESS = 3180;
const PROJECT = 'trace-demo';

async function bookinfo(request: APIRequestContext) {
  kubectlWithInput(
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: PROJECT } }),
    'apply',
    '-f',
    '-',
  );
  const res = await request.post('/api/deploy_sample_app', {
    form: { project: PROJECT },
    headers: { accept: 'application/json', ...sameOrigin() },
  });
  expect(res.status(), await res.text()).toBe(200);
  // reviews-v2 beside v1 (no routing rule: the Service balances over both), so some
  // requests go on to ratings.
  const v2 = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'reviews-v2', namespace: PROJECT, labels: { app: 'reviews', version: 'v2' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'reviews', version: 'v2' } },
      template: {
        metadata: { labels: { app: 'reviews', version: 'v2' } },
        spec: {
          containers: [
            { name: 'reviews', image: 'registry.istio.io/release/examples-bookinfo-reviews-v2:1.20.3', ports: [{ containerPort: 9080 }] },
          ],
        },
      },
    },
  };
  kubectlWithInput(JSON.stringify(v2), 'apply', '-f', '-');
  await expect
    .poll(() => kubectl('get', 'pods', '-n', PROJECT, '--no-headers').split('\n').filter((l) => / 2\/2 +Running/.test(l)).length, {
      timeout: 30_000,
    })
    .toBe(5);
}

/// Sends `n` requests through the mesh ingress with these headers.
async function send(page: Page, n: number, headers: Record<string, string> = {}) {
  await page.goto(`http://bookinfo.${PROJECT}.localhost:${INGRESS}/productpage?u=normal`);
  await page.evaluate(
    async ({ n, headers }) => {
      for (let i = 0; i < n; i++) await fetch('/productpage?u=normal', { headers });
    },
    { n, headers },
  );
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ request }) => {
  await bookinfo(request);
});

test('search productpage traces, open one, follow the calls and find the pod that served a span', async ({ page }) => {
  await send(page, 40);
  await page.goto(`/tracing?project=${PROJECT}`);
  await hydrated(page);
  const service = page.getByLabel('Service');
  await expect(service.locator('option', { hasText: `productpage.${PROJECT}` })).toHaveCount(1);
  await service.selectOption(`productpage.${PROJECT}`);
  await page.getByLabel('Limit').fill('40');
  await page.getByRole('button', { name: 'Find Traces' }).click();
  await expect(page).toHaveURL(new RegExp(`service=productpage\\.${PROJECT}`));
  await expect(page).toHaveURL(/limit=40/);

  // The scatter plot and the list show the same traces; each dot links to one.
  const rows = page.locator('table.traces tbody tr');
  await expect(rows.first()).toBeVisible();
  const count = await rows.count();
  expect(count).toBeGreaterThan(5);
  await expect(page.locator('.scatter-plot a.dot')).toHaveCount(count);
  await expect(rows.first()).toContainText(`details.${PROJECT}`);
  await expect(rows.first()).toContainText(`reviews.${PROJECT}`);

  // A trace through reviews-v2 calls ratings: find one by its span tag.
  await page.getByLabel('Tags').fill('istio.canonical_revision=v2');
  await page.getByLabel('Service').selectOption(`reviews.${PROJECT}`);
  await page.getByRole('button', { name: 'Find Traces' }).click();
  await expect(page).toHaveURL(/tags=istio\.canonical_revision/);
  const v2Row = page.locator('table.traces tbody tr').first();
  await expect(v2Row).toContainText(`ratings.${PROJECT}`);
  await v2Row.getByRole('link').first().click();
  await expect(page).toHaveURL(/\/tracing\/traces\/[0-9a-f]+/);
  await hydrated(page);

  const timeline = page.getByRole('table');
  for (const svc of ['productpage', 'details', 'reviews', 'ratings']) {
    await expect(timeline.locator('.span-service', { hasText: `${svc}.${PROJECT}` }).first()).toBeVisible();
  }
  // The critical path is marked, and it starts at the root.
  await expect(page.locator('.span-row').first()).toHaveClass(/critical/);

  // Filter: only the ratings spans stay in the timeline.
  await page.getByRole('search', { name: 'Filter spans' }).getByLabel('Service').selectOption(`ratings.${PROJECT}`);
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/fservice=ratings/);
  const shown = page.locator('.span-row');
  await expect(shown.first()).toBeVisible();
  for (const svc of await shown.locator('.span-service').allTextContents()) {
    expect(svc).toBe(`ratings.${PROJECT}`);
  }
  await expect(page.getByText(/Showing \d+ of \d+ spans/)).toBeVisible();

  // The span's detail names the pod; kubectl knows it.
  await shown.first().getByRole('link').click();
  await expect(page).toHaveURL(/span=[0-9a-f]+/);
  const detail = page.getByRole('complementary', { name: 'Span detail' });
  const pod = await detail.locator('[data-pod]').getAttribute('data-pod');
  expect(pod).toMatch(/^ratings-v1-/);
  expect(kubectl('get', 'pods', '-n', PROJECT, '-o', 'name')).toContain(`pod/${pod}`);
  await expect(detail.getByRole('table', { name: 'Request' })).toContainText('http.method');
  // The pod links to its application.
  await detail.getByRole('link', { name: pod as string }).click();
  await expect(page).toHaveURL(new RegExp(`/applications/[a-z]+\\?project=${PROJECT}`));
});

test('collapsing a span hides its subtree; the filter says when a value is wrong', async ({ page }) => {
  await send(page, 5);
  await page.goto(`/tracing?project=${PROJECT}&service=productpage.${PROJECT}`);
  await page.locator('table.traces tbody tr').first().getByRole('link').first().click();
  await hydrated(page);
  const rows = page.locator('.span-row');
  const before = await rows.count();
  expect(before).toBeGreaterThan(3);
  await rows.first().getByRole('button').click();
  await expect(rows).toHaveCount(1);
  await rows.first().getByRole('button').click();
  await expect(rows).toHaveCount(before);

  await page.getByRole('search', { name: 'Filter spans' }).getByLabel('Tag').fill('http.status_code');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByRole('alert')).toContainText('key=value');
  await expect(rows).toHaveCount(before);
});

test('trace data renders as text, never as HTML', async ({ page }) => {
  const requestId = `xss-${Date.now()}`;
  const hostile = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">';
  // Browsers refuse to set User-Agent from fetch; send the request from the test runner.
  const status = await new Promise<number>((resolve, reject) => {
    http
      .get(
        {
          host: '127.0.0.1',
          port: INGRESS,
          path: '/productpage',
          headers: { host: `bookinfo.${PROJECT}.localhost`, 'user-agent': hostile, 'x-request-id': requestId },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      )
      .on('error', reject);
  });
  expect(status).toBe(200);
  await page.goto(
    `/tracing?project=${PROJECT}&service=productpage.${PROJECT}&tags=${encodeURIComponent(`guid:x-request-id=${requestId}`)}`,
  );
  await hydrated(page);
  const row = page.locator('table.traces tbody tr');
  await expect(row).toHaveCount(1);
  await row.getByRole('link').first().click();
  await hydrated(page);
  await page.locator('.span-row').first().getByRole('link').click();
  const detail = page.getByRole('complementary', { name: 'Span detail' });
  await expect(detail.getByRole('table', { name: 'Request' })).toContainText(hostile);
  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
  await expect(page.locator('.span-detail img')).toHaveCount(0);
});
