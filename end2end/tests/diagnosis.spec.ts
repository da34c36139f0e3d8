// Services and their configuration diagnosis, and Uninstall Sample Application, as a new
// user tries them in a project of their own: Bookinfo deployed from the console is Normal
// everywhere; routing to a subset nobody defines and a port without protocol, made with
// kubectl, show up with their fix on the Services page and as a badge in the topology;
// Uninstall is refused while a release job of a component exists, then removes
// everything the console created — and a Deployment someone added by hand stays.
import { expect, test, type Page } from '@playwright/test';
import { hydrated, kubectl, kubectlWithInput, sameOrigin } from './env';
import { canaryRelease, deploySampleApp, wizard } from './tutorial';

const PROJECT = 'diag-e2e';
const NOJS_PROJECT = 'diag-nojs-e2e';
const AMBIENT_PROJECT = 'ambient-e2e';

type Drawn = { nodes: { id: string; classes: string[]; label: string }[] };

async function drawn(page: Page): Promise<Drawn | null> {
  return page.evaluate(() => {
    const hook = (window as unknown as { __sluiceGraph?: () => Drawn }).__sluiceGraph;
    return hook ? hook() : null;
  });
}

function namespace(name: string) {
  kubectlWithInput(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }), 'apply', '-f', '-');
}

// Hand-written routing: reviews sent to subset v3, which the DestinationRule lacks.
const BROKEN_ROUTING = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v3}
`;

// A third version of reviews someone deploys by hand, without the console's labels.
const REVIEWS_V3 = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v3
  labels: {app: reviews, version: v3}
spec:
  replicas: 1
  selector:
    matchLabels: {app: reviews, version: v3}
  template:
    metadata:
      labels: {app: reviews, version: v3}
    spec:
      containers:
      - name: reviews
        image: docker.io/istio/examples-bookinfo-reviews-v3:1.20.3
`;

const row = (page: Page, service: string) => page.locator(`tr[data-service="${service}"]`);

test.beforeAll(() => {
  namespace(PROJECT);
  namespace(NOJS_PROJECT);
  namespace(AMBIENT_PROJECT);
});

test('Services: Normal after Deploy Sample Application, each problem with its fix, and the topology badge', async ({ page }) => {
  test.setTimeout(180_000);
  await deploySampleApp(page, PROJECT);

  // A page of its own, reached from the navigation.
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Services' }).click();
  await expect(page).toHaveURL(new RegExp(`/services\\?project=${PROJECT}$`));
  await expect(page.getByRole('heading', { level: 1, name: 'Services' })).toBeVisible();
  await hydrated(page);
  await expect(page.getByTestId('services-summary')).toContainText('4 services, all Normal.');
  for (const s of ['productpage', 'details', 'reviews', 'ratings']) {
    await expect(row(page, s).getByTestId('diagnosis')).toHaveText('Normal');
    await expect(row(page, s)).toHaveAttribute('data-status', 'normal');
    await expect(row(page, s)).toContainText('http 9080/TCP');
  }
  await expect(row(page, 'reviews').locator('[data-workload="reviews-v1"]')).toContainText('v1 reviews-v1');

  // Broken by hand with kubectl: a route to a missing subset, a port renamed.
  kubectlWithInput(BROKEN_ROUTING, 'apply', '-n', PROJECT, '-f', '-');
  kubectl('patch', 'service', 'details', '-n', PROJECT, '--type', 'json',
    '-p', '[{"op":"replace","path":"/spec/ports/0/name","value":"web"}]');
  await page.getByRole('button', { name: 'Refresh' }).click();

  const reviews = row(page, 'reviews');
  await expect(reviews).toHaveAttribute('data-status', 'error');
  const subset = reviews.locator('li[data-finding="undefined-subset"]');
  await expect(subset).toHaveAttribute('data-severity', 'Error');
  await expect(subset).toContainText('VirtualService reviews');
  await expect(subset).toContainText('subset "v3" of reviews, which no DestinationRule defines (defined: v1)');
  await expect(subset).toContainText('HTTP 503');
  await expect(subset.locator('.fix')).toContainText('Add a subset v3 (e.g. labels: version: v3) to DestinationRule reviews');
  const port = row(page, 'details').locator('li[data-finding="unnamed-port"]');
  await expect(port).toContainText('Port 9080 is named "web", which names no protocol');
  await expect(port.locator('.fix')).toContainText('e.g. http-web');
  await expect(port.locator('.fix')).toContainText(`kubectl patch service details -n ${PROJECT}`);
  await expect(row(page, 'details')).toContainText('web 9080/TCP');
  for (const s of ['productpage', 'ratings']) {
    await expect(row(page, s).getByTestId('diagnosis')).toHaveText('Normal');
  }
  await expect(page.getByTestId('services-summary')).toContainText('2 problems, in 2 of 4 services.');

  // The topology marks the services with problems, in the drawing and in the list.
  await page.getByRole('link', { name: 'See them in the topology' }).click();
  await expect(page).toHaveURL(new RegExp(`/traffic-management\\?project=${PROJECT}$`));
  await hydrated(page);
  const reviewsNode = page.locator(`tr[data-node="svc:${PROJECT}/reviews"]`);
  await expect(reviewsNode).toContainText('configuration: route to an undefined subset (VirtualService reviews)');
  await expect(page.locator(`tr[data-node="svc:${PROJECT}/details"]`)).toContainText('port without protocol (Service details)');
  await expect(page.locator(`tr[data-node="svc:${PROJECT}/ratings"]`)).not.toContainText('configuration');
  await expect
    .poll(async () => (await drawn(page))?.nodes.find((n) => n.id === `svc:${PROJECT}/reviews`)?.classes ?? [], { timeout: 30_000 })
    .toContain('badge-problem');
  const label = (await drawn(page))!.nodes.find((n) => n.id === `svc:${PROJECT}/reviews`)!.label;
  expect(label).toContain('⚠');
  expect((await drawn(page))!.nodes.find((n) => n.id === `svc:${PROJECT}/ratings`)?.classes).not.toContain('badge-problem');

  // Fixed by hand again: Normal everywhere.
  kubectl('delete', 'virtualservice,destinationrule', 'reviews', '-n', PROJECT);
  kubectl('patch', 'service', 'details', '-n', PROJECT, '--type', 'json',
    '-p', '[{"op":"replace","path":"/spec/ports/0/name","value":"http"}]');
  await page.goto(`/services?project=${PROJECT}`);
  await expect(page.getByTestId('services-summary')).toContainText('4 services, all Normal.');
});

// Ambient mode: no sidecars; only a waypoint applies L7 routing. Without one, a release
// would split nothing, so the wizard refuses it and the Services page says what to do.
test('Ambient project: a release needs a waypoint, the wizard and the Services page say how to add one', async ({ page }) => {
  test.setTimeout(180_000);
  const P = AMBIENT_PROJECT;
  await deploySampleApp(page, P);
  kubectl('label', 'namespace', P, 'istio.io/dataplane-mode=ambient', '--overwrite');

  await wizard(page, P, 'Canary Release', 'canary-release', 'reviews', 'kubesphere/examples-bookinfo-reviews-v2:1.13.0');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Create' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'waypoint' });
  await expect(alert).toContainText('runs in Istio\'s ambient mode');
  await expect(alert).toContainText('no waypoint serves reviews');
  await expect(alert).toContainText(`istioctl waypoint apply -n ${P} --enroll-namespace`);
  expect(kubectl('get', 'releasejobs', '-n', P, '-o', 'name').trim()).toBe('');

  // Routing someone wrote for reviews applies to nothing: the Services page says so.
  kubectlWithInput(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
`, 'apply', '-n', P, '-f', '-');
  await page.goto(`/services?project=${P}`);
  await hydrated(page);
  const finding = row(page, 'reviews').locator('li[data-finding="no-waypoint"]');
  await expect(finding).toContainText('VirtualService reviews');
  await expect(finding).toContainText('no waypoint serves reviews');
  await expect(finding.locator('.fix')).toContainText(`kubectl label service reviews -n ${P} istio.io/use-waypoint=waypoint`);
  // Pods without sidecars are how ambient works: not a problem here.
  await expect(page.locator('li[data-finding="missing-sidecar"]')).toHaveCount(0);

  // Enrolled in a waypoint: the routing applies, and the release goes through.
  kubectl('label', 'namespace', P, 'istio.io/use-waypoint=waypoint', '--overwrite');
  kubectl('delete', 'virtualservice', 'reviews', '-n', P);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(page.getByTestId('services-summary')).toContainText('4 services, all Normal.');
  // In ambient mode the wizard releases on Gateway API, which a waypoint applies fully.
  await wizard(page, P, 'Canary Release', 'canary-release', 'reviews', 'kubesphere/examples-bookinfo-reviews-v2:1.13.0');
  const routing = page.getByRole('group', { name: 'Routing' });
  await expect(routing.getByLabel('Gateway API HTTPRoute')).toBeChecked();
  await expect(routing).toContainText('runs in Istio\'s ambient mode');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.locator('details.yaml[data-kind="HTTPRoute"] pre')).toBeVisible();
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/grayscale-release\/jobs\/canary-release\?/);
  await hydrated(page);
  await expect(page.getByTestId('phase')).toHaveText('Live', { timeout: 30_000 });
  await expect(page.getByTestId('job-routing')).toHaveText('Routing: Gateway API HTTPRoute');
});

test('Uninstall Sample Application: refused while a release job exists, then removes all the console created', async ({ page }) => {
  test.setTimeout(240_000);
  // Runs after the test above (serial, one worker): Bookinfo is in the project.
  await canaryRelease(page, PROJECT);
  kubectlWithInput(REVIEWS_V3, 'apply', '-n', PROJECT, '-f', '-');

  await page.goto(`/applications?project=${PROJECT}`);
  await hydrated(page);
  const card = page.locator('article[data-app="bookinfo"]');
  await card.getByRole('link', { name: 'Uninstall Sample Application' }).click();
  await expect(page).toHaveURL(/confirm=uninstall-sample/);
  const dialog = page.getByRole('dialog', { name: 'Uninstall Sample Application' });
  await expect(dialog.getByTestId('uninstall-blocked')).toContainText(
    'Cannot uninstall: reviews has a release job canary-release: finish it (Take Over, Job Offline) or delete it first.',
  );
  await expect(dialog.getByRole('button', { name: 'Uninstall' })).toBeDisabled();

  // A script that presses it anyway is refused with the same words, and nothing goes.
  const before = kubectl('get', 'deployments,services,virtualservices,destinationrules', '-n', PROJECT, '-o', 'name');
  const refused = await page.request.post('/api/uninstall_sample_app', {
    form: { project: PROJECT },
    headers: { accept: 'application/json', ...sameOrigin() },
  });
  expect(refused.status()).toBe(409);
  expect(await refused.json()).toEqual({
    Conflict: 'reviews has a release job canary-release: finish it (Take Over, Job Offline) or delete it first; nothing was removed.',
  });
  expect(kubectl('get', 'deployments,services,virtualservices,destinationrules', '-n', PROJECT, '-o', 'name')).toBe(before);

  // The job is deleted (the controller takes reviews v2 away and restores routing).
  kubectl('delete', 'releasejob', 'canary-release', '-n', PROJECT, '--timeout=60s');
  await expect
    .poll(() => kubectl('get', 'deployments', '-n', PROJECT, '-o', 'name'), { timeout: 30_000 })
    .not.toContain('reviews-v2');

  // The confirmation lists what goes and what stays.
  await page.reload();
  await hydrated(page);
  await expect(dialog.getByTestId('uninstall-blocked')).toHaveCount(0);
  await expect(dialog.getByTestId('uninstall-kept')).toHaveText(
    'These stay (Sluice did not create them): Deployment reviews-v3.',
  );
  for (const o of [
    'VirtualService/bookinfo',
    'Gateway/bookinfo-gateway',
    'Deployment/productpage-v1',
    'Deployment/reviews-v1',
    'Service/reviews',
    'ServiceAccount/bookinfo-reviews',
  ]) {
    await expect(dialog.locator(`tr[data-object="${o}"]`)).toHaveCount(1);
  }
  await expect(dialog.locator('tr[data-object="Deployment/reviews-v3"]')).toHaveCount(0);
  const objects = await dialog.locator('tr[data-object]').count();
  expect(objects).toBe(14);

  // Uninstall: each object deleting… → gone, the pods terminate, then all removed.
  await dialog.getByRole('button', { name: 'Uninstall' }).click();
  await expect(dialog.locator('tr[data-object="Deployment/reviews-v1"]')).toHaveAttribute('data-state', /deleting…|gone/);
  await expect(dialog.getByTestId('uninstall-done')).toContainText(
    `All removed: nothing of the sample application is left in project ${PROJECT}.`,
    { timeout: 30_000 },
  );
  await expect(dialog.locator('tr[data-state="gone"]')).toHaveCount(objects);

  // kubectl agrees: nothing of Bookinfo is left, the hand-made reviews-v3 remains.
  expect(kubectl('get', 'deployments', '-n', PROJECT, '-o', 'jsonpath={.items[*].metadata.name}').trim()).toBe('reviews-v3');
  expect(kubectl('get', 'services,virtualservices,destinationrules,gateways', '-n', PROJECT, '-o', 'name').trim()).toBe('');
  expect(kubectl('get', 'serviceaccounts', '-n', PROJECT, '-o', 'name')).not.toContain('bookinfo');
  await expect
    .poll(() => kubectl('get', 'pods', '-n', PROJECT, '-l', 'app.kubernetes.io/name=bookinfo', '-o', 'name').trim(), { timeout: 30_000 })
    .toBe('');
  expect(kubectl('get', 'pods', '-n', PROJECT, '-o', 'name')).toContain('reviews-v3-');

  // The page no longer shows the application, and the dialog closes.
  await dialog.getByRole('link', { name: 'Close' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator('article[data-app="bookinfo"]')).toHaveCount(0);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('Uninstall Sample Application works from the plain form', async ({ page }) => {
    test.setTimeout(120_000);
    // Bookinfo deployed through the API (as a script would).
    const res = await page.request.post('/api/deploy_sample_app', {
      form: { project: NOJS_PROJECT },
      headers: { accept: 'application/json', ...sameOrigin() },
    });
    expect(res.status(), await res.text()).toBe(200);

    await page.goto(`/applications?project=${NOJS_PROJECT}`);
    await page.locator('article[data-app="bookinfo"]').getByRole('link', { name: 'Uninstall Sample Application' }).click();
    const dialog = page.getByRole('dialog', { name: 'Uninstall Sample Application' });
    await expect(dialog.locator('tr[data-object="Deployment/reviews-v1"]')).toHaveCount(1);
    await dialog.getByRole('button', { name: 'Uninstall' }).click();
    // The post comes back to the dialog, which shows what is left until nothing is.
    await expect(page).toHaveURL(/confirm=uninstall-sample/);
    await expect
      .poll(async () => {
        await page.reload();
        return dialog.getByTestId('uninstall-done').count();
      }, { timeout: 30_000, intervals: [500] })
      .toBe(1);
    await expect(dialog.getByTestId('uninstall-done')).toContainText('all removed');
    expect(kubectl('get', 'deployments,services,virtualservices,gateways', '-n', NOJS_PROJECT, '-o', 'name').trim()).toBe('');
  });
});
