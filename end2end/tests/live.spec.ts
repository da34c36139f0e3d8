// Live updates without polling: two operators on one job page (two browser contexts,
// auto-refresh off). A moves the slider and B's page follows through the server's push
// stream; the stream ends on the server (the sandbox console ends streams every 10 s) and
// B falls back to polling and reconnects; a kubectl edit reaches both pages.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { hydrated, kubectl, kubectlWithInput } from './env';
import { bookinfoIn } from './tutorial';

const PROJECT = 'live-e2e';

async function jobPage(browser: Browser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`/grayscale-release/jobs/canary-release?project=${PROJECT}&refresh=off`);
  await hydrated(page);
  await expect(page.getByTestId('live-state')).toHaveAttribute('data-state', 'live');
  return page;
}

const share = (page: Page, version: string) => page.locator(`[data-version="${version}"] [data-testid="share"]`);

test('a change by one operator reaches another without a reload', async ({ browser, request }) => {
  test.setTimeout(120_000);
  await bookinfoIn(request, PROJECT);
  const job = {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'ReleaseJob',
    metadata: { name: 'canary-release', namespace: PROJECT },
    spec: {
      component: 'reviews', baseWorkload: 'reviews-v1', baseVersion: 'v1', newVersion: 'v2',
      image: 'kubesphere/examples-bookinfo-reviews-v2:1.13.0', replicas: 1,
      strategy: { type: 'trafficRatio', newPercent: 50 },
    },
  };
  kubectlWithInput(JSON.stringify(job), 'create', '-f', '-');
  const a = await jobPage(browser);
  const b = await jobPage(browser);
  await expect(a.getByTestId('phase')).toHaveText('Live', { timeout: 30_000 });
  await expect(share(b, 'v2')).toHaveText('50%');

  // A drags the slider; B's page has it while its auto-refresh is off. Its fallback
  // polling runs every 5 s only while the stream is down, so 3 s proves the push.
  const moved = Date.now();
  await a.getByRole('slider').fill('70');
  await expect(share(b, 'v2')).toHaveText('70%', { timeout: 3_000 });
  await expect(b.getByRole('slider')).toHaveValue('70');
  console.log(`B saw A's change ${Date.now() - moved} ms after A released the slider`);

  // The server ends B's stream (after 10 s on this console): B says it is polling, then
  // reconnects by itself.
  await expect(b.getByTestId('live-state')).toHaveAttribute('data-state', 'down', { timeout: 15_000 });
  await expect(b.getByTestId('live-state')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });

  // A kubectl edit reaches both pages.
  kubectl('patch', 'releasejob', 'canary-release', '-n', PROJECT, '--type=merge', '-p', '{"spec":{"strategy":{"type":"trafficRatio","newPercent":20}}}');
  await expect(share(a, 'v2')).toHaveText('20%', { timeout: 3_000 });
  await expect(share(b, 'v2')).toHaveText('20%', { timeout: 3_000 });

  // The history names each change: A's slider move through the console, the edit through
  // kubectl, each with the user the API server knows (the sandbox's admin here).
  const history = b.getByTestId('history');
  const edit = history.locator('tr[data-action="weight moved"][data-via="kubectl/GitOps"]');
  await expect(edit).toContainText('v1 30% / v2 70% → v1 80% / v2 20%', { timeout: 5_000 });
  await expect(edit.getByTestId('history-who')).toHaveText('sluice-sandbox-admin');
  await expect(history.locator('tr[data-action="weight moved"][data-via="console"]')).toContainText('→ v1 30% / v2 70%');
  await expect(history.locator('tr[data-action="created"]')).toHaveCount(1);
  // Filtered to kubectl/GitOps, the console's slider move is hidden (the job itself was
  // created with kubectl); the CSV export carries every entry.
  await b.locator('select[name="history-via"]').selectOption('kubectl');
  await expect(history.locator('tbody tr[data-via="console"]')).toHaveCount(0);
  await expect(history.locator('tbody tr[data-via="kubectl/GitOps"]')).toHaveCount(2);
  const csv = decodeURIComponent((await history.getByRole('link', { name: 'Export CSV' }).getAttribute('href'))!.split(',').slice(1).join(','));
  expect(csv.split('\r\n')[0]).toBe('at,who,via,action,detail,weight_before,weight_after,generation');
  expect(csv).toContain('kubectl/GitOps,weight moved');
});
