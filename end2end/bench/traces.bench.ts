// Big traces in the browser: time to open (a direct load: server render + hydration; and
// from the result list: a client-side fetch + render) and frame times while scrolling the
// virtualized timeline, for 1,000, 10,000 and 50,000 spans. Prints BENCH lines; the
// machines are shared, so nothing here is a timed assertion.
import { expect, test, type Page } from '@playwright/test';

test.skip(!process.env.BENCH_TRACES, 'run with deploy/bench-traces');

const SIZES = [1_000, 10_000, 50_000];
const ROUNDS = 3;

const idOf = (n: number) => String(n).padStart(32, '0');

function median(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function drawn(page: Page, n: number) {
  await expect(page.locator('.layout')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('[data-spans]')).toHaveAttribute('data-spans', String(n));
  await expect(page.locator('.span-row').first()).toBeVisible();
}

/// Scrolls the timeline one step per animation frame and returns the frame intervals (ms).
async function scrollFrames(page: Page, frames: number, step: number) {
  return page.evaluate(
    ({ frames, step }) =>
      new Promise<number[]>((resolve) => {
        const el = document.querySelector('.timeline-body') as HTMLElement;
        const out: number[] = [];
        let last = performance.now();
        let i = 0;
        const tick = (now: number) => {
          out.push(now - last);
          last = now;
          el.scrollTop += step;
          if (++i < frames) requestAnimationFrame(tick);
          else resolve(out.slice(1));
        };
        requestAnimationFrame(tick);
      }),
    { frames, step },
  );
}

for (const n of SIZES) {
  test(`trace of ${n} spans`, async ({ page }) => {
    const direct: number[] = [];
    const clientSide: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Direct load: from navigation start to the timeline drawn and hydrated.
      await page.goto(`/tracing/traces/${idOf(n)}?project=default`, { waitUntil: 'commit' });
      await drawn(page, n);
      direct.push(await page.evaluate(() => performance.now()));

      // From the result list: click → fetch → timeline drawn.
      await page.goto(`/tracing?project=default&service=bench&limit=3`);
      await expect(page.locator('.layout')).toHaveAttribute('data-hydrated', 'true');
      const link = page.locator(`tr[data-trace$="${String(n)}"] a`).first();
      await expect(link).toBeVisible();
      const t0 = await page.evaluate(() => performance.now());
      await link.click();
      await drawn(page, n);
      clientSide.push((await page.evaluate(() => performance.now())) - t0);
    }
    // Scroll through the timeline: ~26 rows per step.
    const frames = await scrollFrames(page, 240, 26 * 26);
    const sorted = [...frames].sort((a, b) => a - b);
    const p95 = sorted[Math.floor(sorted.length * 0.95)];
    const rowsInDom = await page.locator('.span-row').count();
    console.log(
      // The first direct load is cold: the console fetches and parses the trace from Jaeger;
      // later opens find it in the console's small trace cache.
      `BENCH trace spans=${n} open_direct_cold_ms=${direct[0].toFixed(0)} open_direct_ms=${median(direct).toFixed(0)} ` +
        `open_from_list_ms=${median(clientSide).toFixed(0)} ` +
        `scroll_frame_p50_ms=${median(frames).toFixed(1)} scroll_frame_p95_ms=${p95.toFixed(1)} ` +
        `scroll_frame_max_ms=${sorted[sorted.length - 1].toFixed(1)} rows_in_dom=${rowsInDom}`,
    );
  });
}
