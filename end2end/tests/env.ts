// Paths shared by the tests, derived from the run directory playwright.config.ts creates.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { expect, test, type Page } from '@playwright/test';

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

/// What a script calling the console's API must say about itself: the console refuses
/// changes that do not come from its own origin (browsers send this on their own).
export function sameOrigin(): Record<string, string> {
  const base = test.info().project.use.baseURL as string;
  return { origin: new URL(base).origin };
}

/// The admin kubeconfig of a signed-in console's own sandbox (its --data-dir is
/// runDir/<name>).
export function kubeconfigOf(name: string): string {
  return path.join(runDir, name, 'sandbox', 'kubeconfig');
}

/// kubectl against another console's sandbox.
export function kubectlOn(name: string, ...args: string[]): string {
  return execFileSync('kubectl', ['--kubeconfig', kubeconfigOf(name), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
}

/// A sandbox demo user's bearer token (from the kubeconfig the sandbox writes for them).
export function demoToken(sandbox: string, user: string): string {
  const file = path.join(runDir, sandbox, 'sandbox', 'users', `${user}.kubeconfig`);
  const token = /^\s*token:\s*(\S+)\s*$/m.exec(fs.readFileSync(file, 'utf8'))?.[1];
  if (!token) throw new Error(`no token in ${file}`);
  return token;
}
