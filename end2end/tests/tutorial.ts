// The tutorial's steps as a person does them in the console, shared by the specs that
// walk through them (on the open sandbox and on the consoles with a sign-in).
import { expect, type APIRequestContext, type Page } from '@playwright/test';
import { hydrated, kubectlWithInput, sameOrigin } from './env';

/// Applications → Deploy Sample Application → Deploy, then waits for 4/4 running.
export async function deploySampleApp(page: Page, project: string) {
  await page.goto(`/applications?project=${project}`);
  await hydrated(page);
  await page.getByRole('link', { name: 'Deploy Sample Application' }).click();
  const dialog = page.getByRole('dialog', { name: 'Deploy Sample Application' });
  await dialog.getByRole('button', { name: 'Deploy' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator('article[data-app="bookinfo"]').getByTestId('running-count'))
    .toHaveText('4/4 workloads running', { timeout: 30_000 });
}

/// The Create Job wizard's first three steps: job name, component, version and image.
export async function wizard(page: Page, project: string, mode: string, name: string, component: string, image: string) {
  await page.goto(`/grayscale-release?project=${project}`);
  await hydrated(page);
  await page.locator('.mode-card', { hasText: mode }).getByRole('link', { name: 'Create Job' }).click();
  await expect(page.getByRole('heading', { name: 'Create Job', level: 1 })).toBeVisible();
  await hydrated(page);
  await page.locator('input[name="job-name"]').fill(name);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator(`input[name="component"][value="${component}"]`).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.locator('input[name="version"]')).toHaveValue('v2');
  await page.locator('input[name="image"]').fill(image);
  await page.getByRole('button', { name: 'Next' }).click();
}

/// The wizard's last steps: past the strategy to the YAML review, Create, and the job page.
export async function createAndOpen(page: Page, name: string) {
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.locator('details.yaml[data-kind="VirtualService"] pre')).toBeVisible();
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(new RegExp(`/grayscale-release/jobs/${name}\\?`));
  await hydrated(page);
}

/// The tutorial's canary release of reviews v2, 50/50 by traffic ratio, until it is Live.
export async function canaryRelease(page: Page, project: string, name = 'canary-release') {
  await wizard(page, project, 'Canary Release', name, 'reviews', 'kubesphere/examples-bookinfo-reviews-v2:1.13.0');
  await createAndOpen(page, name);
  await expect(page.getByTestId('phase')).toHaveText('Live', { timeout: 30_000 });
}

/// Presses a button that asks for confirmation, and confirms.
export async function confirm(page: Page, button: string) {
  await page.getByRole('button', { name: button }).click();
  await page.getByRole('dialog', { name: 'Confirm' }).getByRole('button', { name: 'Confirm' }).click();
}

/// What a signed-in viewer without change rights sees on a job page: everything that
/// changes the job is disabled, and the reason names the permission.
export async function expectJobReadOnly(page: Page) {
  await expect(page.getByRole('slider')).toBeDisabled();
  for (const name of ['Take Over (v2)', 'Roll back (v1 takes over)', 'Job Offline', 'Delete job']) {
    await expect(page.getByRole('button', { name })).toBeDisabled();
  }
  await expect(page.getByTestId('denied')).toContainText('update releasejobs.sluice.dev');
}

/// A change the page would not offer, sent anyway from the page (same origin, so only
/// Kubernetes RBAC can refuse it).
export async function forceSliderChange(page: Page, project: string, name: string, percent: number) {
  return page.evaluate(
    async ({ project, name, percent }) => {
      const job = await (await fetch(`/api/get_release_job?project=${project}&name=${name}`)).json();
      const res = await fetch('/api/change_release_job', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ project, name, generation: job.generation, change: { NewPercent: percent } }),
      });
      return { status: res.status, body: await res.text() };
    },
    { project, name, percent },
  );
}

/// A project with Bookinfo deployed through the API (as Deploy Sample Application does),
/// all four workloads running.
export async function bookinfoIn(request: APIRequestContext, project: string) {
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
