// Automatic steps (progressive delivery) in the console, against the sandbox: the wizard's
// plan, the job page's timeline and checks, and a person's overrides at every point —
// Pause, Resume, Next step now, moving the slider (which pauses), Promote now, Roll back
// now — each checked in the VirtualService the controller writes. The project gets no
// synthetic traffic, so the steps also show what "not enough traffic" looks like.
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { kubectl, kubectlWithInput, sameOrigin } from './env';
import { confirm, createAndOpen, wizard } from './tutorial';

const IMAGE = 'kubesphere/examples-bookinfo-reviews-v2:1.13.0';

async function bookinfoIn(request: APIRequestContext, project: string) {
  kubectlWithInput(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: project } }), 'apply', '-f', '-');
  const res = await request.post('/api/deploy_sample_app', {
    form: { project },
    headers: { accept: 'application/json', ...sameOrigin() },
  });
  expect(res.status(), await res.text()).toBe(200);
  await expect
    .poll(async () => {
      const v = await (await request.get(`/api/list_applications?project=${project}`)).json();
      return v.applications[0]?.app.components
        .flatMap((c: any) => c.workloads)
        .filter((w: any) => w.ready === w.desired && w.desired > 0).length;
    }, { timeout: 30_000 })
    .toBe(4);
}

/// The reviews VirtualService's weights (v1, v2), as the controller wrote them.
function weights(project: string): number[] {
  const vs = JSON.parse(kubectl('get', 'virtualservices.networking.istio.io', 'reviews', '-n', project, '-o', 'json'));
  return vs.spec.http[0].route.map((r: any) => r.weight);
}

/// The wizard with automatic steps of 10 s, the rest as proposed.
async function automaticJob(page: Page, project: string, name: string) {
  await wizard(page, project, 'Canary Release', name, 'reviews', IMAGE);
  await page.locator('input[name="auto-steps"]').check();
  // The proposed plan.
  await expect(page.locator('input[name="steps"]')).toHaveValue('10, 25, 50, 100');
  await expect(page.locator('input[name="interval-seconds"]')).toHaveValue('60');
  await expect(page.locator('input[name="min-success"]')).toHaveValue('99');
  await expect(page.locator('input[name="max-p99"]')).toHaveValue('500');
  await expect(page.locator('input[name="error-margin"]')).toHaveValue('1');
  await expect(page.locator('input[name="min-requests"]')).toHaveValue('20');
  await expect(page.locator('input[name="failure-limit"]')).toHaveValue('2');
  // The slider is the plan's now.
  await expect(page.getByRole('slider')).toHaveCount(0);
  // Too short an interval is refused with the reason.
  await page.locator('input[name="interval-seconds"]').fill('5');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.locator('.problems')).toContainText('An interval of 5 s is out of range: choose 10 s');
  await page.locator('input[name="interval-seconds"]').fill('10');
  await createAndOpen(page, name);
  await expect(page.getByTestId('phase')).toHaveText('Live', { timeout: 30_000 });
}

function step(page: Page, n: number) {
  return page.getByTestId('step-timeline').locator(`li[data-step="${n}"]`);
}

test('automatic steps: not enough traffic, Pause, Next step now, the slider pauses, Resume, Promote now', async ({ page, request }) => {
  test.setTimeout(150_000);
  const project = 'progressive-e2e';
  await bookinfoIn(request, project);
  await automaticJob(page, project, 'auto-canary');

  const panel = page.getByTestId('analysis');
  await expect(panel.getByRole('heading', { name: 'Automatic steps' })).toBeVisible();
  await expect(step(page, 0)).toHaveAttribute('data-state', 'current', { timeout: 15_000 });
  await expect(step(page, 0).locator('.step-label')).toHaveText('10%');
  await expect(step(page, 3)).toHaveAttribute('data-state', 'next');
  await expect(page.locator('[data-version="v2"] [data-testid="share"]')).toHaveText('10%');
  expect(weights(project)).toEqual([90, 10]);
  await expect(page.getByTestId('countdown')).toContainText(/next check in \d+ s/);
  // Nobody uses this project's Bookinfo: the first check cannot judge, and says so.
  await expect(page.getByTestId('analysis-state')).toContainText('Not enough traffic: 0 requests to v2 in 10 s, 20 needed to judge.', { timeout: 30_000 });
  await expect(step(page, 0)).toContainText('waiting: not enough traffic');
  await expect(page.getByTestId('checks').locator('tbody tr').first()).toHaveAttribute('data-verdict', 'NotEnoughTraffic');
  await expect(page.getByTestId('checks')).toContainText('success rate of v2 no data (at least 99%)');
  // The gates are on the charts.
  await expect(page.getByTestId('success-chart')).toContainText('red: the gate, 99%', { timeout: 30_000 });
  await expect(page.getByTestId('latency-chart')).toContainText('red: the p99 gate, 500 ms');

  await panel.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByTestId('analysis-state')).toContainText('Paused by hand at step 1 of 4 (v2 10%)', { timeout: 15_000 });
  await expect(panel.getByRole('button', { name: 'Resume' })).toBeEnabled();
  await expect(panel.getByRole('button', { name: 'Pause' })).toBeDisabled();

  // Next step now: on to 25% without waiting for checks (and no longer paused).
  await confirm(page, 'Next step now');
  await expect(step(page, 1)).toHaveAttribute('data-state', 'current', { timeout: 15_000 });
  await expect(step(page, 0)).toHaveAttribute('data-state', 'done');
  await expect(step(page, 0)).toContainText('moved on by hand');
  await expect(page.locator('[data-version="v2"] [data-testid="share"]')).toHaveText('25%');
  expect(weights(project)).toEqual([75, 25]);
  await expect(panel.getByRole('button', { name: 'Pause' })).toBeEnabled();

  // A person's slider wins, and pauses the steps.
  await page.getByRole('slider').fill('40');
  await expect(page.getByTestId('analysis-state')).toContainText('Paused: the slider was moved by hand (v2 40%)', { timeout: 15_000 });
  await expect(page.locator('[data-version="v2"] [data-testid="share"]')).toHaveText('40%');
  await expect.poll(() => weights(project), { timeout: 10_000 }).toEqual([60, 40]);
  await panel.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByTestId('analysis-state')).toContainText('Step 2 of 4 (v2 25%)', { timeout: 15_000 });
  await expect.poll(() => weights(project), { timeout: 10_000 }).toEqual([75, 25]);

  await confirm(page, 'Promote now');
  await expect(page.getByTestId('phase')).toHaveText('TakenOver', { timeout: 15_000 });
  await expect(page.getByTestId('job-message')).toContainText('Promoted by hand at step 2 of 4 (v2 25%)');
  expect(weights(project)).toEqual([0, 100]);
  for (const name of ['Pause', 'Resume', 'Next step now', 'Promote now']) {
    await expect(panel.getByRole('button', { name })).toBeDisabled();
  }
});

test('automatic steps: Roll back now keeps the new version for inspection until Job Offline', async ({ page, request }) => {
  test.setTimeout(120_000);
  const project = 'rollback-e2e';
  await bookinfoIn(request, project);
  await automaticJob(page, project, 'auto-rollback');
  await expect(step(page, 0)).toHaveAttribute('data-state', 'current', { timeout: 15_000 });

  await confirm(page, 'Roll back now');
  await expect(page.getByTestId('phase')).toHaveText('RolledBack', { timeout: 15_000 });
  await expect(page.getByTestId('job-message')).toContainText("Rolled back by hand at step 1 of 4 (v2 10%): all traffic to v1; reviews-v2's pods stay for inspection until Job Offline.");
  await expect(step(page, 0)).toContainText('rolled back here');
  expect(weights(project)).toEqual([100, 0]);
  expect(kubectl('get', 'deployments', '-n', project)).toContain('reviews-v2');
  await expect(page.locator('[data-version="v2"] [data-testid="ready"]')).toHaveText(' 1/1 pods ready');

  await confirm(page, 'Job Offline');
  await expect(page).toHaveURL(new RegExp(`/grayscale-release\\?project=${project}$`));
  await expect.poll(() => JSON.parse(kubectl('get', 'deployments', '-n', project, '-o', 'json')).items.map((d: any) => d.metadata.name).sort(), { timeout: 15_000 })
    .toEqual(['details-v1', 'productpage-v1', 'ratings-v1', 'reviews-v1']);
  expect(weights(project)).toEqual([100]);
});
