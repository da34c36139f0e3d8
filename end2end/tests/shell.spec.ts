// The console shell as a person uses it: the sections, the project selector kept in
// the URL, hydration, pages without JavaScript, and a real 404.
import { expect, test, type Page } from '@playwright/test';
import { hydrated } from './env';

const SECTIONS = [
  { label: 'Applications', path: '/applications' },
  { label: 'Grayscale Release', path: '/grayscale-release' },
  { label: 'Traffic Management', path: '/traffic-management' },
  { label: 'Services', path: '/services' },
  { label: 'Tracing', path: '/tracing' },
];

// Each page shows the selected project: Applications and Grayscale Release list its
// (here: no) applications and jobs, Tracing searches its services, Traffic Management
// says there is nothing to draw in it.
async function expectProjectShown(page: Page, path: string, project: string) {
  if (path === '/applications') {
    await expect(page.getByRole('heading', { name: `No applications in ${project} yet` })).toBeVisible();
  } else if (path === '/grayscale-release') {
    // The project's (empty) job list, and the modes that start the wizard for it.
    await expect(page.getByText('No release jobs in this project')).toBeVisible();
    await expect(page.locator('.mode-card a').first()).toHaveAttribute('href', new RegExp(`project=${project}`));
  } else if (path === '/services') {
    // The project's Services with their diagnosis (a count, or none).
    await expect(page.getByTestId('services-summary')).toContainText(/services?|No Services in this project/);
  } else if (path === '/tracing') {
    // The search form is for the project's services.
    await expect(page.locator('input[type="hidden"][name="project"]')).toHaveValue(project);
    await expect(page.getByText(new RegExp(`e\\.g\\. productpage\\.${project}\\.`))).toBeVisible();
  } else {
    await expect(page.locator('.empty-state strong')).toHaveText(project);
  }
}


test.describe('with JavaScript', () => {
  test('walks the sections, switches the project, and hydrates', async ({ page }) => {
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto('/');
    await expect(page).toHaveURL(/\/applications$/);
    await hydrated(page);
    await expect(page.getByRole('heading', { level: 1, name: 'Applications' })).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Choose a project' })).toBeVisible();

    // The sandbox's namespaces come from the cluster through kube-rs.
    const select = page.locator('#project-select');
    await expect(select.locator('option[value="demo-project"]')).toHaveCount(1);
    await expect(select.locator('optgroup[label="System"] option[value="kube-system"]')).toHaveCount(1);

    // Choosing a project navigates at once: only the wasm bundle can do that, because
    // the "Switch" button of the plain form is gone once hydrated.
    await expect(page.getByRole('button', { name: 'Switch' })).toBeHidden();
    await select.selectOption('demo-project');
    await expect(page).toHaveURL(/\/applications\?project=demo-project$/);
    await expectProjectShown(page, '/applications', 'demo-project');

    for (const { label, path } of SECTIONS) {
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: label }).click();
      await expect(page).toHaveURL(new RegExp(`${path}\\?project=demo-project$`));
      await expect(page.getByRole('heading', { level: 1, name: label })).toBeVisible();
      await expect(select).toHaveValue('demo-project');
      await expectProjectShown(page, path, 'demo-project');
    }

    // Switching again keeps the section.
    await select.selectOption('default');
    await expect(page).toHaveURL(/\/tracing\?project=default$/);
    await expectProjectShown(page, '/tracing', 'default');

    // The sandbox cluster is connected: no banner, and the chip says so.
    await expect(page.locator('.cluster-banner')).toHaveCount(0);
    await expect(page.locator('.backend-chips .chip').first()).toContainText('Sandbox');
    expect(errors).toEqual([]);
  });

  test('unknown pages answer 404 with a way back', async ({ page }) => {
    const res = await page.goto('/no-such-page');
    expect(res?.status()).toBe(404);
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
    await expect(page.getByText('/no-such-page')).toBeVisible();
    await hydrated(page);
    await page.getByRole('link', { name: 'Applications' }).first().click();
    await expect(page).toHaveURL(/\/applications$/);
  });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('every page renders and the project form works', async ({ page }) => {
    await page.goto('/applications');
    await expect(page.getByRole('heading', { level: 1, name: 'Applications' })).toBeVisible();
    // The plain form: pick, then press Switch.
    await page.locator('#project-select').selectOption('demo-project');
    await page.getByRole('button', { name: 'Switch' }).click();
    await expect(page).toHaveURL(/\/applications\?project=demo-project$/);
    await expectProjectShown(page, '/applications', 'demo-project');

    for (const { label, path } of SECTIONS) {
      const link = page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: label });
      await expect(link).toHaveAttribute('href', `${path}?project=demo-project`);
      await link.click();
      await expect(page.getByRole('heading', { level: 1, name: label })).toBeVisible();
      await expect(page.locator('#project-select')).toHaveValue('demo-project');
      await expectProjectShown(page, path, 'demo-project');
    }
  });
});

test('health endpoints: alive, and ready because the sandbox answers', async ({ request }) => {
  expect((await request.get('/healthz')).status()).toBe(200);
  const ready = await request.get('/readyz');
  expect(ready.status()).toBe(200);
  expect(await ready.text()).toContain('sandbox kubeconfig');
});
