// A large mesh: 500 services of the fixture Prometheus (server/examples/bench_topology.rs
// --serve, started by playwright.config.ts), drawn by a console pointed at it. At this
// size the page picks the service graph and says so; the versioned app graph is drawn
// with its edges on Sluice's own edge layer (not as cytoscape elements), where a click
// still picks an edge and opens its panel.
import { expect, test, type Page } from '@playwright/test';

// The fixture Prometheus of playwright.config.ts (LARGE_MESH_PROMETHEUS).
const FIXTURE = 'http://127.0.0.1:3192';

type Drawn = {
  ready: boolean;
  timings: { patched?: number };
  nodes: { id: string; classes: string[]; screen: { x: number; y: number } }[];
  edges: { id: string; source: string; target: string; classes: string[]; label: string }[];
  selected: string[];
};

async function drawn(page: Page): Promise<Drawn> {
  return page.evaluate(() => (window as unknown as { __sluiceGraph: () => Drawn }).__sluiceGraph());
}

/// Painted pixels of the edge layer (alpha > 0).
async function edgePixels(page: Page): Promise<number> {
  return page.evaluate(() => {
    const c = document.querySelector('canvas[data-id="sluice-edges"]') as HTMLCanvasElement | null;
    if (!c) return -1;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
}

test('a large mesh: the service graph first, the versioned graph on the edge layer, edges clickable', async ({ page, request }) => {
  test.setTimeout(180_000);
  await page.goto('/traffic-management?project=bench&window=5&refresh=off');
  const canvas = page.getByTestId('topology-canvas');
  await expect(canvas).toHaveAttribute('data-graph-ready', 'true', { timeout: 60_000 });
  await expect(page.getByTestId('graph-view-notice')).toContainText('500 services: showing the service graph');
  const graphSelect = page.locator('select[name="graph"]');
  await expect(graphSelect).toHaveValue('');
  const served = await (await request.get('/api/get_topology?project=bench&minutes=5')).json();
  expect(served.view).toBe('Service');
  let g = await drawn(page);
  expect(g.nodes.some((n) => n.id.startsWith('wl:bench/'))).toBe(false);
  expect(g.edges.length).toBe(served.edges.length);
  expect(await edgePixels(page)).toBeGreaterThan(1000);
  await expect(page.getByTestId('topology-counts')).toContainText(`500 services, ${served.edges.length} connections (service graph, last 5 min)`);

  // Versions on demand: the notice's link.
  await page.getByRole('link', { name: 'Show the versioned app graph' }).click();
  await expect(page).toHaveURL(/graph=versioned/);
  await expect(graphSelect).toHaveValue('versioned');
  await expect(canvas).toHaveAttribute('data-graph-ready', 'true', { timeout: 60_000 });
  await expect.poll(async () => (await drawn(page)).nodes.some((n) => n.id.startsWith('wl:bench/')), { timeout: 60_000 }).toBe(true);
  await expect(canvas).toHaveAttribute('data-graph-ready', 'true', { timeout: 60_000 });
  const versioned = await (await request.get('/api/get_topology?project=bench&minutes=5&graph=versioned')).json();
  g = await drawn(page);
  expect(g.edges.length).toBe(versioned.edges.length);
  // Health classes come along: the fixture fails a share of its calls.
  expect(g.edges.some((e) => e.classes.includes('health-failure'))).toBe(true);
  expect(await edgePixels(page)).toBeGreaterThan(1000);

  // Zoom in on the middle, then click the middle of a long edge far from any node: the
  // layer picks the nearest edge, the URL names it and its panel opens.
  const box = (await canvas.boundingBox())!;
  for (let i = 0; i < 6; i++) {
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, -400);
  }
  await page.waitForTimeout(500);
  g = await drawn(page);
  const at = new Map(g.nodes.map((n) => [n.id, n.screen]));
  const inside = (p: { x: number; y: number }) =>
    p.x > box.x + 40 && p.x < box.x + box.width - 40 && p.y > box.y + 40 && p.y < box.y + box.height - 40;
  const pick = g.edges
    .map((e) => {
      const a = at.get(e.source)!, b = at.get(e.target)!;
      const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
      const clear = Math.min(...g.nodes.map((n) => Math.hypot(n.screen.x - mid.x, n.screen.y - mid.y)));
      return { id: e.id, mid, clear };
    })
    .filter((c) => inside(c.mid))
    .sort((x, y) => y.clear - x.clear)[0];
  expect(pick, 'an edge in view').toBeTruthy();
  await page.mouse.click(pick.mid.x, pick.mid.y);
  await expect(page).toHaveURL(/item=[^&]*-%3E/);
  const item = decodeURIComponent(new URL(page.url()).searchParams.get('item')!);
  await expect.poll(async () => (await drawn(page)).selected).toEqual([item]);
  const chosen = (await drawn(page)).edges.find((e) => e.id === item)!;
  expect(chosen.label).toMatch(/rps/);
  await expect(page.getByTestId('topology-panel').getByTestId('chart-traffic').locator('li').first()).toContainText(/rps/, { timeout: 30_000 });

  // The PNG export composes the edge layer under the nodes.
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'PNG', exact: true }).click()]);
  expect(file.suggestedFilename()).toBe('bench-topology.png');

  // A refresh that brings a new service: nothing drawn moves, and its workloads are placed
  // beside the services they call (found through the edge layer, which cytoscape does not
  // know), not piled up at the edge of the graph.
  await page.goto('/traffic-management?project=bench&window=5&refresh=5s&graph=versioned');
  await expect(canvas).toHaveAttribute('data-graph-ready', 'true', { timeout: 60_000 });
  const before = await drawn(page);
  const grown = await (await request.post(`${FIXTURE}/fixture/grow`)).text();
  expect(grown).toBe('svc-00500');
  const fresh = `wl:bench/${grown}-v1`;
  await expect.poll(async () => (await drawn(page)).nodes.some((n) => n.id === fresh), { timeout: 30_000 }).toBe(true);
  const after = await drawn(page);
  const was = new Map(before.nodes.map((n) => [n.id, n.screen]));
  const moved = after.nodes.filter((n) => was.has(n.id) && JSON.stringify(n.screen) !== JSON.stringify(was.get(n.id)));
  expect(moved.map((n) => n.id)).toEqual([]);
  const pos = new Map(after.nodes.map((n) => [n.id, n.screen]));
  const callees = after.edges.filter((e) => e.source === fresh).map((e) => pos.get(e.target)!);
  expect(callees.length).toBeGreaterThanOrEqual(2);
  const mean = { x: callees.reduce((a, p) => a + p.x, 0) / callees.length, y: callees.reduce((a, p) => a + p.y, 0) / callees.length };
  const placed = pos.get(fresh)!;
  expect(Math.hypot(placed.x - mean.x, placed.y - mean.y)).toBeLessThan(40);
});
