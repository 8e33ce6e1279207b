// Drives paved's entity cards and resource page in the system Chromium with
// playwright-core (e2e/browser_cards_test.go writes the spec): as the owner,
// the Component's Argo CD app card and its Sync, the Resource card, the
// connection details revealed and copied, the resource page, extend and tear
// down; as another user, the "not yours" message with no secret in the page
// or in any response the page received.
//
//   node drive-cards.mjs spec.json
//
// spec.phase "cards" runs everything but the tear down (the test then
// connects to PostgreSQL with the copied details); "teardown" tears down.
//
// Writes the result to spec.resultPath (0600: it holds the copied
// connection URL, which the test connects with) and prints only ok/step/error.
import { launchChromium, stepper } from './driver.mjs';
import { mkdir, writeFile } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const spec = JSON.parse(await readFile(process.argv[2], 'utf8'));
const timeout = spec.timeoutMs ?? 60000;
const observed = {};
const pageErrors = [];
const run = stepper();
const { timings, step } = run;
let page;

const byTestId = id => page.locator(`[data-testid="${id}"]`);

/** The card (MUI Card) around the element with data-testid id. */
const cardOf = id => byTestId(id).locator('xpath=ancestor::div[contains(@class, "MuiCard-root")][1]');

async function shot(id, file) {
  await mkdir(spec.artifacts, { recursive: true });
  await cardOf(id).screenshot({ path: join(spec.artifacts, file) });
}

/** Waits until the element's text changes from before; returns the new text. */
async function textChange(id, before) {
  await page.waitForFunction(
    ([sel, text]) => {
      const el = document.querySelector(sel);
      return el && el.textContent !== text;
    },
    [`[data-testid="${id}"]`, before],
    { timeout },
  );
  return byTestId(id).textContent();
}

const browser = await launchChromium(spec, timeout);
try {
  const owner = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
  await owner.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: spec.ownerUrl });
  page = await owner.newPage();
  page.on('pageerror', e => pageErrors.push(e.message));
  const row = `paved-app-${spec.app.instance}-${spec.app.name}`;
  if (spec.phase === 'cards') await cards(row);
  if (spec.phase === 'teardown') await tearDown(owner);

  run.current = 'page errors';
  if (pageErrors.length > 0) throw new Error(`uncaught errors in the page: ${pageErrors.join('; ')}`);
  await writeFile(spec.resultPath, JSON.stringify({ ok: true, observed, timings }), { mode: 0o600 });
  console.log(JSON.stringify({ ok: true, timings }));
} catch (error) {
  let screenshot = '';
  try {
    await mkdir(spec.artifacts, { recursive: true });
    // Not while the connection details may be on screen.
    if (run.current !== 'reveal and copy') {
      screenshot = join(spec.artifacts, `failure-${run.current.replace(/\W+/g, '-')}.png`);
      await page?.screenshot({ path: screenshot, fullPage: true });
    }
  } catch {
    screenshot = '';
  }
  // The observed values may hold the password: they stay out of the output.
  console.log(JSON.stringify({ ok: false, step: run.current, error: String(error?.stack ?? error), screenshot, timings, pageErrors }));
  process.exitCode = 1;
} finally {
  await browser.close();
}

async function cards(row) {
  // The card's four keys request: paved narrows it to the service.
  const dora = page.waitForResponse(r => new URL(r.url()).pathname.endsWith('/devex/v1/dora'), { timeout });
  dora.catch(() => {}); // awaited below; a timeout here fails that step
  await step('app card', async () => {
    await page.goto(`${spec.ownerUrl}/catalog/default/component/${spec.component}`, { timeout });
    await byTestId(row).waitFor({ timeout });
    observed.appRow = await byTestId(row).textContent();
    observed.appLink = await byTestId(row).getByRole('link').first().getAttribute('href');
    await shot(row, 'app-card.png');
  });

  await step('four keys on the app card', async () => {
    // The service's four keys, below its apps: one tile per key.
    observed.fourKeys = {};
    await byTestId('entity-dora-Change failure rate').waitFor({ timeout });
    for (const key of ['Deployment frequency', 'Lead time for changes', 'Change failure rate', 'Time to restore']) {
      observed.fourKeys[key] = await byTestId(`entity-dora-${key}`).textContent();
    }
    await shot('entity-dora-Lead time for changes', 'app-card-four-keys.png');
    const res = await dora;
    observed.doraUrl = res.url();
    observed.doraStatus = res.status();
    observed.doraBytes = (await res.body()).length;
  });

  await step('sync', async () => {
    const sync = page.waitForResponse(
      r => r.request().method() === 'POST' && r.url().includes(`/apps/v1/instances/${spec.app.instance}/apps/${spec.app.name}/sync`),
      { timeout },
    );
    const op = `paved-app-operation-${spec.app.instance}-${spec.app.name}`;
    const before = await byTestId(op).textContent();
    await byTestId(`paved-sync-${spec.app.instance}-${spec.app.name}`).click();
    observed.syncStatus = (await sync).status();
    observed.operationAfterSync = await textChange(op, before);
    await shot(row, 'app-card-synced.png');
  });

  await step('resource card', async () => {
    await page.goto(`${spec.ownerUrl}/catalog/default/resource/${spec.resource.name}`, { timeout });
    await byTestId('paved-resource-status').waitFor({ timeout });
    observed.resource = {};
    for (const key of ['kind', 'size', 'status', 'owner', 'expiry', 'cost']) {
      observed.resource[key] = await byTestId(`paved-resource-${key}`).textContent();
    }
    await shot('paved-resource', 'resource-card.png');
  });

  await step('reveal and copy', async () => {
    const asked = page.waitForRequest(r => r.url().endsWith(`/infra/${spec.resource.id}/connection`), { timeout });
    await byTestId('paved-connection-reveal').click();
    observed.connectionRequestCache = (await asked).headers()['cache-control'] ?? '';
    await byTestId('paved-connection-url').waitFor({ timeout });
    const shown = await byTestId('paved-connection-url').textContent();
    await page.getByRole('button', { name: 'Copy url' }).click();
    observed.copiedUrl = await page.evaluate(() => navigator.clipboard.readText());
    observed.shownUrlMatchesCopy = shown === observed.copiedUrl;
    observed.password = await byTestId('paved-connection-password').textContent();
    // Hidden again: nothing of it stays in the page.
    await byTestId('paved-connection-hide').click();
    observed.passwordInDomAfterHide = (await page.content()).includes(observed.password);
  });

  await step('extend', async () => {
    const before = await byTestId('paved-resource-expiry').textContent();
    const extended = page.waitForResponse(r => r.url().endsWith(`/infra/v1/resources/${spec.resource.id}/extend`), { timeout });
    await byTestId('paved-extend').click();
    observed.extendStatus = (await extended).status();
    observed.expiryBefore = before;
    observed.expiryAfter = await textChange('paved-resource-expiry', before);
  });

  await step('resource page', async () => {
    await page.goto(`${spec.ownerUrl}/paved/resources/${spec.resource.id}`, { timeout });
    await byTestId('paved-resource-status').waitFor({ timeout });
    observed.pageStatus = await byTestId('paved-resource-status').textContent();
    await page.screenshot({ path: join(spec.artifacts, 'resource-page.png'), fullPage: true });
  });

  await step('not yours', async () => {
    const other = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
    const otherPage = await other.newPage();
    otherPage.on('pageerror', e => pageErrors.push(e.message));
    const bodies = [];
    otherPage.on('response', async r => {
      bodies.push({ url: r.url(), text: `${r.status()} ${r.url()}\n${await r.text().catch(() => '')}` });
    });
    page = otherPage;
    await page.goto(`${spec.outsiderUrl}/catalog/default/resource/${spec.resource.name}`, { timeout });
    await byTestId('paved-connection-not-yours').waitFor({ timeout });
    observed.notYours = await byTestId('paved-connection-not-yours').textContent();
    observed.outsiderRevealButtons = await byTestId('paved-connection-reveal').count();
    observed.outsiderManage = await byTestId('paved-manage-forbidden').textContent();
    await shot('paved-resource', 'resource-card-not-yours.png');
    const resourceDom = await page.content();
    await page.goto(`${spec.outsiderUrl}/catalog/default/component/${spec.component}`, { timeout });
    await byTestId(row).waitFor({ timeout });
    observed.outsiderSyncDisabled = await byTestId(`paved-sync-${spec.app.instance}-${spec.app.name}`).isDisabled();
    await shot(row, 'app-card-not-yours.png');
    const dom = resourceDom + (await page.content());
    observed.secretInOutsiderDom = dom.includes(observed.password);
    observed.outsiderResponses = bodies.length;
    observed.outsiderConnectionRequests = bodies.filter(b => /\/infra\/[^/]+\/connection$/.test(new URL(b.url).pathname)).length;
    observed.secretInOutsiderNetwork = bodies.some(b => b.text.includes(observed.password));
    await other.close();
  });
}

async function tearDown(owner) {
  await step('tear down', async () => {
    page = await owner.newPage();
    page.on('pageerror', e => pageErrors.push(e.message));
    await page.goto(`${spec.ownerUrl}/catalog/default/resource/${spec.resource.name}`, { timeout });
    await byTestId('paved-teardown').click();
    await page.getByRole('dialog').waitFor({ timeout });
    await page.getByRole('dialog').screenshot({ path: join(spec.artifacts, 'teardown-dialog.png') });
    const deleted = page.waitForResponse(r => r.request().method() === 'DELETE' && r.url().endsWith(`/infra/v1/resources/${spec.resource.id}`), { timeout });
    await byTestId('paved-teardown-confirm').click();
    observed.deleteStatus = (await deleted).status();
    await byTestId('paved-resource-gone').waitFor({ timeout });
    observed.gone = await byTestId('paved-resource-gone').textContent();
  });
}
