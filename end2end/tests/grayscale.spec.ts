// The KubeSphere tutorial's Tasks 3-8 in the console, against the sandbox: create the
// canary job in the wizard, watch the product page follow the slider, Take Over, Job
// Offline; then a header rule, a blue-green switch and mirroring.
import { expect, test, type Page } from '@playwright/test';
import { hydrated, kubectl } from './env';
import { bookinfoIn, confirm, createAndOpen, wizard } from './tutorial';

const INGRESS = 3180;

/// Loads the product page `n` times from its own origin and counts the reviews versions.
async function reviewsVersions(page: Page, project: string, n: number, headers: Record<string, string> = {}) {
  await page.goto(`http://bookinfo.${project}.localhost:${INGRESS}/productpage?u=normal`);
  return page.evaluate(
    async ({ n, headers }) => {
      const counts: Record<string, number> = {};
      let blackStars = 0;
      for (let i = 0; i < n; i++) {
        const html = await (await fetch('/productpage?u=normal', { headers })).text();
        const v = /data-reviews-version="([^"]+)"/.exec(html)?.[1] ?? 'none';
        counts[v] = (counts[v] ?? 0) + 1;
        if (/class="stars black/.test(html)) blackStars++;
      }
      return { counts, blackStars };
    },
    { n, headers },
  );
}

/// Five binomial standard deviations: fails only when routing is wrong.
function expectShare(observed: number, n: number, p: number) {
  const tol = 5 * Math.sqrt((p * (1 - p)) / n);
  expect(Math.abs(observed / n - p), `share ${observed}/${n}, expected ${p} ± ${tol.toFixed(3)}`).toBeLessThanOrEqual(tol);
}

test('canary by traffic ratio: 50/50, slider to 30/70, Take Over, Job Offline', async ({ page, request }) => {
  const project = 'canary-e2e';
  await bookinfoIn(request, project);
  await wizard(page, project, 'Canary Release', 'canary-release', 'reviews', 'kubesphere/examples-bookinfo-reviews-v2:1.13.0');
  await expect(page.getByTestId('base-share')).toHaveText('v1 50%');
  await expect(page.getByTestId('new-share')).toHaveText('v2 50%');
  await createAndOpen(page, 'canary-release');

  await expect(page.getByTestId('phase')).toHaveText('Live', { timeout: 30_000 });
  await expect(page.locator('[data-version="v2"] [data-testid="share"]')).toHaveText('50%');
  await expect(page.locator('[data-version="v2"] [data-testid="ready"]')).toHaveText(' 1/1 pods ready');

  const product = await page.context().newPage();
  let seen = await reviewsVersions(product, project, 200);
  expectShare(seen.counts['v2'] ?? 0, 200, 0.5);
  expect(seen.blackStars).toBe(seen.counts['v2']);

  // The live panel: Prometheus (scraping the sandbox every 5 s) sees both versions.
  await expect(page.getByTestId('observed-split')).toContainText(/v1 \d+(\.\d)?% · v2 \d+(\.\d)?%|v2 \d+(\.\d)?% · v1 \d+(\.\d)?%/, { timeout: 45_000 });
  await expect(page.getByTestId('observed-split')).toContainText('configured: v1 50% · v2 50%');
  await expect(page.locator('.charts .chart svg')).toHaveCount(3);

  // Drag to 30/70 (the range input: set value, fire input and change).
  await page.getByRole('slider').fill('70');
  await expect(page.getByTestId('new-share')).toHaveText('v2 70%');
  await expect(page.getByTestId('job-message')).toContainText('v1 30% / v2 70%', { timeout: 15_000 });
  seen = await reviewsVersions(product, project, 200);
  expectShare(seen.counts['v2'] ?? 0, 200, 0.7);

  await confirm(page, 'Take Over (v2)');
  await expect(page.getByTestId('phase')).toHaveText('TakenOver', { timeout: 15_000 });
  seen = await reviewsVersions(product, project, 30);
  expect(seen.counts).toEqual({ v2: 30 });

  await confirm(page, 'Job Offline');
  await expect(page).toHaveURL(new RegExp(`/grayscale-release\\?project=${project}$`));
  await expect.poll(() => JSON.parse(kubectl('get', 'deployments', '-n', project, '-o', 'json')).items.map((d: any) => d.metadata.name).sort(), { timeout: 15_000 })
    .toEqual(['details-v1', 'productpage-v1', 'ratings-v1', 'reviews-v2']);
  const vs = JSON.parse(kubectl('get', 'virtualservices.networking.istio.io', 'reviews', '-n', project, '-o', 'json'));
  expect(vs.spec.http[0].route).toEqual([{ destination: { host: 'reviews', subset: 'v2' }, weight: 100 }]);
  expect(kubectl('get', 'releasejobs', '-n', project)).not.toContain('canary-release');
  seen = await reviewsVersions(product, project, 20);
  expect(seen.counts).toEqual({ v2: 20 });
});

test('canary by request content: end-user jason sees v2, everyone else v1', async ({ page, request }) => {
  const project = 'content-e2e';
  await bookinfoIn(request, project);
  await wizard(page, project, 'Canary Release', 'jason-canary', 'reviews', 'kubesphere/examples-bookinfo-reviews-v2:1.13.0');
  await page.locator('input[name="strategy"][value="content"]').check();
  // The default rule is the tutorial's: header end-user exact jason.
  await expect(page.getByLabel('Value')).toHaveValue('jason');
  await createAndOpen(page, 'jason-canary');
  await expect(page.getByTestId('phase')).toHaveText('Live', { timeout: 30_000 });
  const product = await page.context().newPage();
  expect((await reviewsVersions(product, project, 20, { 'end-user': 'jason' })).counts).toEqual({ v2: 20 });
  expect((await reviewsVersions(product, project, 20)).counts).toEqual({ v1: 20 });
});

test('blue-green switch, then traffic mirroring', async ({ page, request }) => {
  const project = 'bluegreen-e2e';
  await bookinfoIn(request, project);
  await wizard(page, project, 'Blue-Green Deployment', 'blue-green', 'reviews', 'kubesphere/examples-bookinfo-reviews-v2:1.13.0');
  await page.locator('input[name="serving"]').first().check(); // keep v1 serving at first
  await createAndOpen(page, 'blue-green');
  await expect(page.getByTestId('phase')).toHaveText('Live', { timeout: 30_000 });
  const product = await page.context().newPage();
  expect((await reviewsVersions(product, project, 10)).counts).toEqual({ v1: 10 });
  await page.getByRole('button', { name: 'Switch all traffic to v2' }).click();
  await expect(page.getByRole('button', { name: 'Switch all traffic back to v1' })).toBeVisible({ timeout: 15_000 });
  await expect.poll(async () => (await reviewsVersions(product, project, 10)).counts, { timeout: 15_000 }).toEqual({ v2: 10 });

  // Undo the release, then mirror 100% to v2: pages stay v1.
  await confirm(page, 'Delete job');
  await expect(page).toHaveURL(new RegExp(`/grayscale-release\\?project=${project}$`));
  await expect.poll(() => kubectl('get', 'deployments', '-n', project), { timeout: 15_000 }).not.toContain('reviews-v2');
  await wizard(page, project, 'Traffic Mirroring', 'mirror', 'reviews', 'kubesphere/examples-bookinfo-reviews-v2:1.13.0');
  await expect(page.locator('input[name="mirror-percent"]')).toHaveValue('100');
  await createAndOpen(page, 'mirror');
  await expect(page.getByTestId('phase')).toHaveText('Live', { timeout: 30_000 });
  expect((await reviewsVersions(product, project, 20)).counts).toEqual({ v1: 20 });
  const vs = JSON.parse(kubectl('get', 'virtualservices.networking.istio.io', 'reviews', '-n', project, '-o', 'json'));
  expect(vs.spec.http[0].mirror).toEqual({ host: 'reviews', subset: 'v2' });
  expect(vs.spec.http[0].mirrorPercentage).toEqual({ value: 100 });
});

test('bad input in the wizard gets a clear message and nothing is created', async ({ page }) => {
  await page.goto('/grayscale-release/new?project=demo-project');
  await hydrated(page);
  await page.locator('input[name="job-name"]').fill('Bad_Name');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.locator('.problems')).toContainText('Job name "Bad_Name" contains');
  await expect(page.locator('.wizard-steps li.current')).toHaveText('1. Basic Info');
});
