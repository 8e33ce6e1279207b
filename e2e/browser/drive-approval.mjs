// Drives paved's approval page in the system Chromium with playwright-core
// (e2e/approvals_test.go writes the spec): as the approver, opens the
// request's page (where the notification links), reads what is asked and
// why, writes a comment and approves; waits until the page shows the request
// done (paved provisioned it).
//
//   node drive-approval.mjs spec.json
//
// Writes the result to spec.resultPath and prints only ok/step/error.
import { launchChromium, stepper } from './driver.mjs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const spec = JSON.parse(await readFile(process.argv[2], 'utf8'));
const timeout = spec.timeoutMs ?? 60000;
const observed = {};
const pageErrors = [];
const run = stepper();
const { timings, step } = run;
let page;

const byTestId = id => page.locator(`[data-testid="${id}"]`);

const browser = await launchChromium(spec, timeout);
try {
  const context = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
  page = await context.newPage();
  page.on('pageerror', e => pageErrors.push(e.message));

  await step('request page', async () => {
    await page.goto(`${spec.approverUrl}/paved/approvals/${spec.id}`, { timeout });
    await byTestId('paved-approval-state').waitFor({ timeout });
    observed.stateBefore = (await byTestId('paved-approval-state').textContent())?.trim();
    observed.pageText = await page.locator('body').innerText();
    await mkdir(spec.artifacts, { recursive: true });
    await page.screenshot({ path: join(spec.artifacts, 'approval-pending.png'), fullPage: true });
  });

  await step('approve', async () => {
    await byTestId('paved-approval-comment').fill(spec.comment);
    const decided = page.waitForResponse(
      r => r.request().method() === 'POST' && r.url().includes(`/approvals/v1/requests/${spec.id}/approve`),
      { timeout },
    );
    await byTestId('paved-approval-approve').click();
    observed.approveStatus = (await decided).status();
    await page.waitForFunction(
      sel => document.querySelector(sel)?.textContent?.trim() === 'done',
      '[data-testid="paved-approval-state"]',
      { timeout },
    );
    observed.stateAfter = (await byTestId('paved-approval-state').textContent())?.trim();
    observed.decisionButtons = await byTestId('paved-approval-approve').count();
    await page.screenshot({ path: join(spec.artifacts, 'approval-done.png'), fullPage: true });
  });

  run.current = 'page errors';
  if (pageErrors.length > 0) throw new Error(`uncaught errors in the page: ${pageErrors.join('; ')}`);
  await writeFile(spec.resultPath, JSON.stringify({ ok: true, observed, timings }), { mode: 0o600 });
  console.log(JSON.stringify({ ok: true, timings }));
} catch (error) {
  let screenshot = '';
  try {
    await mkdir(spec.artifacts, { recursive: true });
    screenshot = join(spec.artifacts, `failure-${run.current.replace(/\W+/g, '-')}.png`);
    await page?.screenshot({ path: screenshot, fullPage: true });
  } catch {
    screenshot = '';
  }
  console.log(JSON.stringify({ ok: false, step: run.current, error: String(error?.stack ?? error), screenshot, timings, pageErrors }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
