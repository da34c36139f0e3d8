// Time from navigation to the topology graph drawn and interactive, in Chromium, for the
// fixture mesh of BENCH_SERVICES services (project `bench`). For each run it prints:
// - server: the get_topology server function alone (Prometheus queries + graph build + JSON);
// - html: navigation to the server-rendered page loaded (DOMContentLoaded);
// - created / patched / laid out: in-page times (ms since navigation) when cytoscape was
//   created, the elements were added, and the graph was drawn (first frame rendered);
// - drawn: navigation to `data-graph-ready="true"` seen by the test;
// - tap: a click on a drawn node until the page answers it (the URL names the item).
import { expect, test, type Page } from '@playwright/test';

const services = Number(process.env.BENCH_SERVICES ?? '100');
const runs = Number(process.env.BENCH_RUNS ?? '3');
// The graph types to measure: `auto` (what the page picks: the service graph from 500
// services on) and `versioned` (every version); BENCH_VIEWS=auto,versioned by default.
const views = (process.env.BENCH_VIEWS ?? 'auto,versioned').split(',').filter((v) => v);

type Drawn = {
  layout: string;
  timings: { created?: number; patched?: number; layoutstop?: number };
  nodes: { id: string; classes: string[]; screen: { x: number; y: number } }[];
  edges: { id: string }[];
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function drawn(page: Page): Promise<Drawn> {
  return page.evaluate(() => (window as unknown as { __sluiceGraph: () => Drawn }).__sluiceGraph());
}

for (const view of views) {
  const param = view === 'auto' ? '' : `&graph=${view}`;
  test(`topology graph of ${services} services (${view}): navigation to drawn and interactive`, async ({ page, request }) => {
    const server: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = Date.now();
      const res = await request.get(`/api/get_topology?project=bench&minutes=5${param}`);
      expect(res.status(), await res.text()).toBe(200);
      server.push(Date.now() - t);
    }
    const rows: Record<string, number>[] = [];
    let counts = { nodes: 0, edges: 0, layout: '' };
    for (let i = 0; i < runs; i++) {
      await page.goto('about:blank');
      const t0 = Date.now();
      await page.goto(`/traffic-management?project=bench&window=5&refresh=off${param}`, { waitUntil: 'domcontentloaded' });
      const html = Date.now() - t0;
      // (waitForSelector watches the page itself; expect() polls at intervals and would add
      // up to a quarter of a second.)
      await page.waitForSelector('[data-testid="topology-canvas"][data-graph-ready="true"]', { timeout: 180_000 });
      const drawnMs = Date.now() - t0;
      const g = await drawn(page);
      counts = { nodes: g.nodes.length, edges: g.edges.length, layout: g.layout };
      // Click a workload near the middle of the view; the answer is the URL naming it.
      const box = (await page.getByTestId('topology-canvas').boundingBox())!;
      const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
      const target = g.nodes
        .filter((n) => !n.classes.includes('kind-app'))
        .reduce((best, n) => (Math.hypot(n.screen.x - cx, n.screen.y - cy) < Math.hypot(best.screen.x - cx, best.screen.y - cy) ? n : best));
      console.log(`BENCH run ${i + 1}: services=${services} drawn_ms=${drawnMs} timings=${JSON.stringify(g.timings)}`);
      // At a fitted zoom thousands of nodes are a pixel or two wide: the click may land on a
      // neighbour or an edge. Any element answering counts; the background does not.
      const t1 = Date.now();
      await page.mouse.click(target.screen.x, target.screen.y);
      await expect(page).toHaveURL(/[?&]item=/, { timeout: 60_000 });
      const tap = Date.now() - t1;
      rows.push({
        html,
        created: Math.round(g.timings.created ?? NaN),
        patched: Math.round(g.timings.patched ?? NaN),
        laid_out: Math.round(g.timings.layoutstop ?? NaN),
        drawn: drawnMs,
        tap,
      });
    }
    const keys = Object.keys(rows[0]);
    const med = Object.fromEntries(keys.map((k) => [k, median(rows.map((r) => r[k]))]));
    console.log(
      `BENCH topology services=${services} view=${view} nodes=${counts.nodes} edges=${counts.edges} layout=${counts.layout} ` +
        `server_ms=${median(server)} ` +
        keys.map((k) => `${k}_ms=${med[k]}`).join(' ') +
        ` (median of ${runs}; runs: ${JSON.stringify(rows)})`,
    );
  });
}
