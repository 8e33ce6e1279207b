// Opens the adoption page several times in the system Chromium against a
// paved holding 5 years of data for 1,000 templates and 500 teams
// (e2e/browser_scale_test.go), and measures each time the page's first
// meaningful render after paved answers: on the page's own clock, from the
// responseEnd of paved's summary answer to the first animation frame in
// which every KPI card shows paved's figure (driver.mjs: watchKpis). The
// first load is a fresh browser's; the others are in new contexts of the
// same browser.
//
//   node drive-scale.mjs spec.json
//
// The seeded data ends on spec.today: the page's clock (Date, not
// performance.now) is moved there, so its default range is the data's
// last 28 days. Prints one JSON line: {"ok":true,"loads":[…]} or
// {"ok":false,"error":"…","screenshot":"…"}; exits 1 on failure.
import { kpiTexts, kpisShownAt, launchChromium, observeLongTasks, renderTimeline, watchKpis } from './driver.mjs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const spec = JSON.parse(await readFile(process.argv[2], 'utf8'));
const timeout = spec.timeoutMs ?? 120000;
const kpis = kpiTexts(await import(spec.formatModule), spec.summary);

/** Moves the page's calendar to today (noon UTC); timers and performance.now stay real. */
function moveCalendar(today) {
  const RealDate = Date;
  const offset = new RealDate(`${today}T12:00:00Z`).getTime() - RealDate.now();
  class MovedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset;
    }
  }
  globalThis.Date = MovedDate;
}

const browser = await launchChromium(spec, timeout);
const loads = [];
const pageErrors = [];
let page;
try {
  for (let i = 0; i < spec.loads; i++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
    await context.addInitScript(moveCalendar, spec.today);
    await context.addInitScript(observeLongTasks);
    await context.addInitScript(watchKpis, kpis);
    page = await context.newPage();
    page.on('pageerror', e => pageErrors.push(e.message));
    await page.goto(`${spec.appUrl}/paved`, { timeout });
    const renderedAt = await kpisShownAt(page, timeout);
    // Every panel settled: no progress bar left, the last answer in.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="progress"]').length === 0 && document.querySelector('[data-testid="dora-overall-Deployment frequency"]'), null, { timeout });
    const settledAt = Math.round(await page.evaluate(() => performance.now()));
    const { answers, longTasks } = await renderTimeline(page);
    const summary = answers.find(a => a.path === 'summary');
    const load = {
      render: summary ? Math.round(renderedAt - summary.end) : null,
      summaryAnsweredAt: summary?.end ?? null,
      renderedAt: Math.round(renderedAt),
      settledAt,
      answers,
      longTasks,
      nodes: await page.evaluate(() => document.getElementsByTagName('*').length),
    };
    if (load.render === null || !(load.summaryAnsweredAt > 0)) throw new Error('no resource timing of paved\'s summary answer');
    loads.push(load);
    await context.close();
  }
  if (pageErrors.length > 0) throw new Error(`uncaught errors in the page: ${pageErrors.join('; ')}`);
  console.log(JSON.stringify({ ok: true, loads }));
} catch (error) {
  let screenshot = '';
  try {
    await mkdir(spec.artifacts, { recursive: true });
    screenshot = join(spec.artifacts, 'failure-scale.png');
    await page?.screenshot({ path: screenshot, fullPage: true });
  } catch {
    screenshot = '';
  }
  console.log(JSON.stringify({ ok: false, error: String(error?.stack ?? error), screenshot, loads, pageErrors }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
