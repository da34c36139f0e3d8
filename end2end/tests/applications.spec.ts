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

  // Click to visit: Bookinfo's product page through the sandbox ingress, served by
  // reviews v1 only, so Reviewer1 and Reviewer2 without stars.
  const [product] = await Promise.all([
    page.context().waitForEvent('page'),
    card.getByRole('link', { name: 'Click to visit' }).click(),
  ]);
  await product.waitForLoadState();
  expect(product.url()).toBe(`http://bookinfo.${PROJECT}.localhost:3180/productpage`);
  await expect(product.locator('h3.title')).toHaveText('The Comedy of Errors');
  await expect(product.locator('.reviews')).toContainText('Reviewer1');
  await expect(product.locator('.reviews')).toContainText('Reviewer2');
  await expect(product.locator('.reviews')).toHaveAttribute('data-reviews-version', 'v1');
  await expect(product.locator('.reviews .stars')).toHaveCount(0);
  await product.reload();
  await expect(product.locator('.reviews')).toHaveAttribute('data-reviews-version', 'v1');
  await product.close();

  // The detail page shows each pod with its sidecar, node and IP.
  await card.getByRole('link', { name: 'bookinfo' }).click();
  await expect(page).toHaveURL(new RegExp(`/applications/bookinfo\\?project=${PROJECT}$`));
  const pods = page.locator('tr[data-pod]');
  await expect(pods).toHaveCount(4);
  await expect(pods.filter({ hasText: 'istio-proxy' })).toHaveCount(4);
  await expect(page.locator('details.yaml[data-kind="VirtualService"][data-name="bookinfo"]')).toHaveCount(1);
  const kubectlPods = JSON.parse(kubectl('get', 'pods', '-n', PROJECT, '-o', 'json'));
  for (const p of kubectlPods.items) {
    const row = page.locator(`tr[data-pod="${p.metadata.name}"]`);
    await expect(row).toContainText(p.spec.nodeName);
    await expect(row).toContainText(p.status.podIP);
  }
  await page.goBack();

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
