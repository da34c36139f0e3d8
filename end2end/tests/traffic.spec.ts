// Traffic Management against the sandbox: Bookinfo with traffic drawn as a graph
// (cytoscape, read through the page's read-only `window.__sluiceGraph` hook and the HTML
// list of connections), a click on the reviews service opening its charts, and a faulty
// canary of reviews turning its edge red within the window.
import * as fs from 'fs';
import { expect, test, type Page } from '@playwright/test';
import { hydrated } from './env';
import { bookinfoIn } from './tutorial';

const INGRESS = 3180;
const PROJECT = 'topology-e2e';
const wl = (name: string) => `wl:${PROJECT}/${name}`;
const svc = (name: string) => `svc:${PROJECT}/${name}`;
const edge = (from: string, to: string) => `${from}->${to}`;

type Drawn = {
  ready: boolean;
  layout: string;
  nodes: { id: string; classes: string[]; label: string; screen: { x: number; y: number } }[];
  edges: { id: string; classes: string[] }[];
  timings: { patched?: number };
};

async function drawn(page: Page): Promise<Drawn | null> {
  return page.evaluate(() => {
    const hook = (window as unknown as { __sluiceGraph?: () => Drawn }).__sluiceGraph;
    return hook ? hook() : null;
  });
}

/// Users of the product page: a loop in its own tab, from Bookinfo's own origin, until the
/// tab closes. (The sandbox's built-in load goes to one Bookinfo only.)
async function sendTraffic(page: Page, project: string) {
  await page.goto(`http://bookinfo.${project}.localhost:${INGRESS}/productpage?u=normal`);
  void page
    .evaluate(async () => {
      for (;;) {
        await fetch('/productpage?u=normal').catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100));
      }
    })
    .catch(() => undefined);
}

test('topology: Bookinfo drawn with traffic, reviews charts, a faulty canary turns red', async ({ page, request }) => {
  test.setTimeout(240_000);
  await bookinfoIn(request, PROJECT);
  const users = await page.context().newPage();
  await sendTraffic(users, PROJECT);

  await page.goto(`/traffic-management?project=${PROJECT}&window=1&refresh=5s`);
  await hydrated(page);

  // The graph: productpage calls details and reviews (v1, which does not call ratings).
  const calls = [
    edge(wl('productpage-v1'), svc('details')),
    edge(svc('details'), wl('details-v1')),
    edge(wl('productpage-v1'), svc('reviews')),
    edge(svc('reviews'), wl('reviews-v1')),
  ];
  await expect
    .poll(async () => {
      const g = await drawn(page);
      return calls.filter((id) => g?.edges.some((e) => e.id === id && e.classes.includes('health-healthy')));
    }, { timeout: 60_000, intervals: [1000] })
    .toEqual(calls);
  await expect(page.getByTestId('topology-canvas')).toHaveAttribute('data-graph-ready', 'true');
  // The same connections in the HTML list, with a rate and their health.
  const row = page.locator(`tr[data-edge="${edge(wl('productpage-v1'), svc('reviews'))}"]`);
  await expect(row).toHaveAttribute('data-health', 'healthy');
  await expect(row.locator('td').nth(2)).toHaveText(/\d+\.\d+ rps/);
  // Versions of reviews sit in the reviews app box.
  const g = await drawn(page);
  const v1 = g!.nodes.find((n) => n.id === wl('reviews-v1'));
  expect(v1?.classes).toContain('kind-workload');
  expect(g!.nodes.find((n) => n.id === `app:${PROJECT}/reviews`)?.classes).toContain('kind-app');
  await expect(page.getByTestId('topology-notice')).toHaveCount(0);

  // Click the reviews service where it is drawn: the panel opens with charts of real data.
  // (Where it is drawn is read right before each click: a refresh may move the page.)
  await page.bringToFront();
  await expect(async () => {
    const at = (await drawn(page))!.nodes.find((n) => n.id === svc('reviews'))!.screen;
    await page.mouse.click(at.x, at.y);
    await expect(page).toHaveURL(/item=svc%3Atopology-e2e%2Freviews/, { timeout: 2_000 });
  }).toPass({ timeout: 20_000 });
  const panel = page.getByTestId('topology-panel');
  await expect(panel.getByRole('heading', { level: 2 })).toContainText('reviews');
  await expect(panel.getByTestId('chart-traffic').locator('svg')).toBeVisible({ timeout: 30_000 });
  await expect(panel.getByTestId('chart-traffic').locator('li').first()).toContainText(/\d+\.\d\d rps/);
  await expect(panel.getByTestId('chart-success').locator('li').first()).toContainText(/%/);
  await expect(panel.getByTestId('chart-latency').locator('li')).toHaveCount(3);
  await expect(panel.getByTestId('chart-latency')).toContainText('p95');
  expect((await drawn(page))!.nodes.length).toBeGreaterThan(0);

  // Edge labels follow the choice without a re-layout: positions stay.
  const before = (await drawn(page))!.nodes.find((n) => n.id === svc('reviews'))!.screen;
  await page.getByLabel('Edge labels').selectOption('p95');
  await expect(page).toHaveURL(/labels=p95/);
  const after = (await drawn(page))!.nodes.find((n) => n.id === svc('reviews'))!.screen;
  expect(after).toEqual(before);

  // The page refreshes every 5 s: each answer is patched into the drawing (the rates
  // change with live traffic) and nothing already drawn moves.
  const snapshot = (await drawn(page))!;
  const where = new Map(snapshot.nodes.map((n) => [n.id, n.screen]));
  await expect
    .poll(async () => (await drawn(page))!.timings.patched ?? 0, { timeout: 30_000, intervals: [500] })
    .toBeGreaterThan(snapshot.timings.patched ?? 0);
  const refreshed = (await drawn(page))!;
  const kept = refreshed.nodes.filter((n) => where.has(n.id));
  expect(kept.length).toBe(snapshot.nodes.length);
  for (const n of kept) expect(n.screen, n.id).toEqual(where.get(n.id));

  // Exports: the graph as drawn (SVG from the drawn positions, PNG) and as served (JSON).
  const download = async (button: string) => {
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: button, exact: true }).click()]);
    return { name: file.suggestedFilename(), body: fs.readFileSync((await file.path())!) };
  };
  const svgFile = await download('SVG');
  expect(svgFile.name).toBe(`${PROJECT}-topology.svg`);
  const svgText = svgFile.body.toString('utf8');
  expect(svgText).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  // (XML-escaped: the id's "->" is "-&gt;" in the attribute.)
  expect(svgText).toContain(`<g class="edge" data-id="${edge(wl('productpage-v1'), svc('reviews')).replace('>', '&gt;')}">`);
  expect(svgText).toMatch(/ms<\/text>/); // labelled with p95, the choice made above
  const jsonFile = await download('JSON');
  const served = JSON.parse(jsonFile.body.toString('utf8'));
  expect(served.project).toBe(PROJECT);
  expect(served.edges.map((e: { id: string }) => e.id)).toEqual(expect.arrayContaining(calls));
  const pngFile = await download('PNG');
  expect(pngFile.name).toBe(`${PROJECT}-topology.png`);
  expect(pngFile.body.subarray(1, 4).toString('latin1')).toBe('PNG');

  // A faulty canary of reviews: half its answers are 500s, its edge turns red.
  await page.goto(`/grayscale-release?project=${PROJECT}`);
  await hydrated(page);
  await page.locator('.mode-card', { hasText: 'Canary Release' }).getByRole('link', { name: 'Create Job' }).click();
  await hydrated(page);
  await page.locator('input[name="job-name"]').fill('faulty-canary');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('input[name="component"][value="reviews"]').check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('input[name="image"]').fill('kubesphere/examples-bookinfo-reviews-v2:1.13.0-faulty');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/grayscale-release\/jobs\/faulty-canary\?/);
  await expect(page.getByTestId('phase')).toHaveText('Live', { timeout: 30_000 });

  await page.goto(`/traffic-management?project=${PROJECT}&window=1&refresh=5s`);
  await hydrated(page);
  const toV2 = edge(svc('reviews'), wl('reviews-v2'));
  await expect
    .poll(async () => (await drawn(page))?.edges.find((e) => e.id === toV2)?.classes ?? [], { timeout: 90_000, intervals: [1000] })
    .toContain('health-failure');
  await expect(page.locator(`tr[data-edge="${toV2}"]`)).toHaveAttribute('data-health', 'failure');
  // v1 still serves its half well, and the canary is badged.
  const now = (await drawn(page))!;
  expect(now.edges.find((e) => e.id === edge(svc('reviews'), wl('reviews-v1')))?.classes).toContain('health-healthy');
  expect(now.nodes.find((n) => n.id === wl('reviews-v2'))?.classes).toContain('badge-canary');
  // reviews v2 calls ratings (v1 does not), so reviews → ratings is drawn now.
  await expect
    .poll(async () => (await drawn(page))?.edges.some((e) => e.id === edge(wl('reviews-v2'), svc('ratings'))), { timeout: 30_000 })
    .toBe(true);

  // The service graph: one node per service, versions merged; the caller of an edge is
  // its app, and its side panel charts exactly that merged traffic.
  await page.locator('select[name="graph"]').selectOption('service');
  await expect(page).toHaveURL(/graph=service/);
  const merged = edge(`app:${PROJECT}/reviews`, svc('ratings'));
  await expect
    .poll(async () => (await drawn(page))?.edges.map((e) => e.id) ?? [], { timeout: 30_000 })
    .toEqual(expect.arrayContaining([edge(`app:${PROJECT}/productpage`, svc('reviews')), merged]));
  const byService = (await drawn(page))!;
  expect(byService.nodes.filter((n) => n.id.startsWith(`wl:${PROJECT}/`))).toEqual([]);
  expect(byService.nodes.map((n) => n.id)).toEqual(expect.arrayContaining([svc('reviews'), svc('ratings'), svc('productpage')]));
  await page.goto(`/traffic-management?project=${PROJECT}&window=1&graph=service&item=${encodeURIComponent(merged)}`);
  const mergedPanel = page.getByTestId('topology-panel');
  await expect(mergedPanel.getByRole('heading', { level: 2 })).toContainText('reviews → ratings');
  await expect(mergedPanel.getByTestId('chart-traffic').locator('li').first()).toContainText(/\d+\.\d\d rps/, { timeout: 30_000 });
  // An unknown graph type in the API is refused with the ones offered.
  const bad = await request.get(`/api/get_topology?project=${PROJECT}&minutes=1&graph=apps`);
  expect(bad.status()).toBe(422);
  expect(await bad.text()).toContain('choose versioned or service');
  await users.close();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the graph is listed as HTML and a link opens an item', async ({ page }) => {
    // Runs after the test above in the same sandbox: Bookinfo is there (serial, 1 worker).
    await page.goto(`/traffic-management?project=${PROJECT}&window=5`);
    await expect(page.getByTestId('topology-counts')).toContainText(/\d+ services, \d+ workloads, \d+ connections \(last 5 min\)/);
    const link = page.locator(`tr[data-edge="${edge(wl('productpage-v1'), svc('details'))}"] a`);
    await expect(link).toHaveText('productpage-v1 → details');
    await link.click();
    await expect(page).toHaveURL(/item=wl%3Atopology-e2e%2Fproductpage-v1-%3Esvc%3Atopology-e2e%2Fdetails/);
    await expect(page.getByTestId('topology-panel').locator('.topology-facts')).toContainText('http');
    await expect(page.getByTestId('topology-panel').getByTestId('chart-traffic')).toBeVisible();
  });
});
