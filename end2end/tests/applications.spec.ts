// The KubeSphere tutorial's Tasks 1-2 in the console: deploy Bookinfo from the UI, watch
// it become ready, and check that kubectl sees what the page shows.
import { expect, test } from '@playwright/test';
import { hydrated, kubectl, kubectlWithInput } from './env';

const PROJECT = 'bookinfo-e2e';

test.beforeAll(() => {
  kubectlWithInput(
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: PROJECT } }),
    'apply',
    '-f',
    '-',
  );
});

test('Deploy Sample Application, watch it become running, and kubectl agrees', async ({ page }) => {
  await page.goto(`/applications?project=${PROJECT}`);
  await hydrated(page);
  await expect(page.getByRole('heading', { name: `No applications in ${PROJECT} yet` })).toBeVisible();

  await page.getByRole('link', { name: 'Deploy Sample Application' }).click();
  const dialog = page.getByRole('dialog', { name: 'Deploy Sample Application' });
  await expect(dialog).toContainText(`bookinfo.${PROJECT}.localhost`);
  await expect(dialog).toContainText('Sidecar injection will be turned on');
  for (const name of ['productpage-v1', 'details-v1', 'reviews-v1', 'ratings-v1', 'bookinfo-gateway']) {
    await expect(dialog.getByRole('cell', { name, exact: true })).toBeVisible();
  }
  await expect(dialog.getByRole('cell', { name: 'reviews-v2', exact: true })).toHaveCount(0);
  await dialog.getByRole('button', { name: 'Deploy' }).click();
  await expect(dialog).toBeHidden();

  // Live: the card fills in and the progress reaches 4/4 without a reload.
  const card = page.locator('article[data-app="bookinfo"]');
  await expect(card.getByTestId('running-count')).toHaveText('4/4 workloads running', { timeout: 30_000 });
  for (const w of ['productpage-v1', 'details-v1', 'reviews-v1', 'ratings-v1']) {
    await expect(card.locator(`tr[data-workload="${w}"]`)).toHaveAttribute('data-status', 'Running');
  }
  await expect(card.locator('.routes')).toContainText(`bookinfo.${PROJECT}.localhost`);
  await expect(page.getByTestId('sidecar-injection')).toHaveText('enabled');

  // kubectl shows what the UI says exists.
  const deployments = JSON.parse(kubectl('get', 'deployments', '-n', PROJECT, '-o', 'json'));
  const fromKubectl = deployments.items.map((d: any) => d.metadata.name).sort();
  const fromUi = (await card.locator('tr[data-workload]').evaluateAll((rows) =>
    rows.map((r) => r.getAttribute('data-workload')),
  )).sort();
  expect(fromUi).toEqual(fromKubectl);
  for (const d of deployments.items) {
    expect(d.status.readyReplicas).toBe(d.spec.replicas);
  }
  const ns = JSON.parse(kubectl('get', 'namespace', PROJECT, '-o', 'json'));
  expect(ns.metadata.labels['istio-injection']).toBe('enabled');

  // Deploying twice is refused up front, and nothing changes.
  await page.getByRole('link', { name: 'Deploy Sample Application' }).click();
  await expect(dialog).toContainText('Cannot deploy: these already exist in the project');
  await expect(dialog.getByRole('button', { name: 'Deploy' })).toBeDisabled();
  await dialog.getByRole('link', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  const after = JSON.parse(kubectl('get', 'deployments', '-n', PROJECT, '-o', 'json'));
  expect(after.items.length).toBe(deployments.items.length);
});
