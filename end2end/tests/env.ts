// Paths shared by the tests, derived from the run directory playwright.config.ts creates.
import { execFileSync } from 'child_process';
import * as path from 'path';
import { expect, type Page } from '@playwright/test';

const runDir = process.env.SLUICE_E2E_DIR as string;

/// The kubeconfig the sandbox server writes (its --data-dir is runDir/sandbox).
export const sandboxKubeconfig = path.join(runDir, 'sandbox', 'sandbox', 'kubeconfig');

/// Runs the real kubectl against the sandbox and returns its stdout.
export function kubectl(...args: string[]): string {
  return kubectlWithInput(undefined, ...args);
}

export function kubectlWithInput(input: string | undefined, ...args: string[]): string {
  return execFileSync('kubectl', ['--kubeconfig', sandboxKubeconfig, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    input,
  });
}

export async function hydrated(page: Page) {
  await expect(page.locator('.layout')).toHaveAttribute('data-hydrated', 'true');
}
