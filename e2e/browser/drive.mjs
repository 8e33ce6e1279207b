// Drives the adoption page in the system Chromium with playwright-core and
// checks it against what paved itself returned (e2e/browser_test.go writes
// the spec: the app's URLs and paved's answers for the same ranges).
//
//   node drive.mjs spec.json
//
// Prints one JSON line: {"ok":true,"observed":{…},"timings":{…}} or
// {"ok":false,"step":"…","error":"…","screenshot":"…"}; exits 1 on failure.
// Every wait is for a selector, a text or a request, with a generous timeout.
import { kpiTexts, kpisShownAt, launchChromium, observeLongTasks, renderTimeline, stepper, watchKpis } from './driver.mjs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const spec = JSON.parse(await readFile(process.argv[2], 'utf8'));
const format = await import(spec.formatModule);
const { formatCount, formatDuration, formatPercent, formatRatio } = format;

const timeout = spec.timeoutMs ?? 60000;

const observed = {};
const pageErrors = [];
const run = stepper();
const { timings, step } = run;
let page;

/** Waits until the element with data-testid id has exactly the text want. */
async function waitForTestIdText(id, want) {
  await page.waitForFunction(
    ([sel, text]) => document.querySelector(sel)?.textContent === text,
    [`[data-testid="${id}"]`, want],
    { timeout },
  ).catch(async error => {
    const got = await page.locator(`[data-testid="${id}"]`).first().textContent().catch(() => null);
    throw new Error(`${id}: want ${JSON.stringify(want)}, page shows ${JSON.stringify(got)} (${error.message.split('\n')[0]})`);
  });
}

async function checkKpis(summary, label) {
  const shown = {};
  for (const [id, want] of Object.entries(kpiTexts(format, summary))) {
    await waitForTestIdText(id, want);
    shown[id.slice('kpi-'.length)] = want;
  }
  // The previous period, as the card writes it under the figure.
  const card = page.locator('[data-testid="kpi-runsStarted"]').locator('xpath=..');
  const before = `vs ${formatCount(summary.kpis.runsStarted.previous)} before`;
  await card.getByText(before, { exact: true }).waitFor({ timeout });
  shown.runsStartedPrevious = before;
  observed[label] = shown;
}

async function checkTemplates(items, label) {
  const table = page.getByRole('table', { name: 'Template runs per template' });
  const want = items.map(i => i.templateRef).sort();
  await page.waitForFunction(
    refs => {
      const table = document.querySelector('table[aria-label="Template runs per template"]');
      if (!table) return false;
      const got = [...table.querySelectorAll('tbody tr td:first-child')].map(td => td.getAttribute('title')).sort();
      return JSON.stringify(got) === JSON.stringify(refs);
    },
    want,
    { timeout },
  ).catch(async error => {
    const got = await table.locator('tbody tr td:first-child').allTextContents().catch(() => []);
    throw new Error(`templates table: want ${want.join(', ')}, page shows ${got.join(', ')} (${error.message.split('\n')[0]})`);
  });
  const rows = {};
  for (const item of items) {
    const row = table.locator('tbody tr', { has: page.locator(`td[title="${item.templateRef}"]`) });
    const cells = await row.locator('td').allTextContents();
    // Template, Runs, Success, p50, p95, Unique users, Time saved.
    const want = [formatCount(item.runs), formatRatio(item.successRate), formatDuration(item.timeSavedSeconds)];
    const got = [cells[1], cells[2], cells[6]];
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(`templates row ${item.templateRef}: want ${want}, page shows ${got}`);
    }
    rows[item.templateRef] = cells;
  }
  observed[label] = rows;
}

function devexRequest(endpoint, params) {
  return page.waitForRequest(
    r => {
      const url = new URL(r.url());
      if (url.pathname !== `/api/paved/devex/v1/${endpoint}`) return false;
      return Object.entries(params).every(([k, v]) => url.searchParams.get(k) === v);
    },
    { timeout },
  );
}

const browser = await launchChromium(spec, timeout);
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1100 } });
  await context.addInitScript(observeLongTasks);
  await context.addInitScript(watchKpis, kpiTexts(format, spec.summary28));
  page = await context.newPage();
  page.on('pageerror', e => pageErrors.push(e.message));

  await step('first render', async () => {
    const summaryAsked = devexRequest('summary', { from: spec.range28.from, to: spec.range28.to, grouping: 'day' });
    await page.goto(`${spec.appUrl}/paved`, { timeout });
    await summaryAsked;
    await page.getByText('Golden paths adoption').first().waitFor({ timeout });
    // First meaningful render after paved answers: from the end of paved's
    // summary response to the first frame showing every KPI as paved answered
    // it, both on the page's own clock (resource timing; watchKpis, from the
    // page's start, checks each frame).
    const renderedAt = await kpisShownAt(page, timeout);
    const answeredAt = await page.evaluate(() => {
      const answers = performance.getEntriesByType('resource').filter(e => new URL(e.name).pathname === '/api/paved/devex/v1/summary');
      return answers.length ? answers[0].responseEnd : null;
    });
    if (answeredAt === null || !(answeredAt > 0)) throw new Error('no resource timing of paved\'s summary answer');
    timings['render after paved'] = Math.round(renderedAt - answeredAt);
    observed.firstRender = { answeredAt: Math.round(answeredAt), renderedAt: Math.round(renderedAt), ...(await renderTimeline(page)) };
    await checkKpis(spec.summary28, 'kpis28');
  });

  await step('costs', async () => {
    // The cost panel's figures, read off the page, must be paved's report
    // (the Go test compares them with the gauge on /metrics too).
    const amount = text => Number(text.replace(/[^0-9.]/g, ''));
    const total = page.locator('[data-testid="cost-total"]');
    await total.waitFor({ timeout });
    const m = /^([0-9,.]+) \S+\/month now for (\d+) resources/.exec(await total.textContent());
    if (!m) throw new Error(`cost total reads ${await total.textContent()}`);
    observed.costs = { total: { monthly: amount(m[1]), resources: Number(m[2]) }, teams: [] };
    if (observed.costs.total.monthly !== spec.costs.total.monthly || observed.costs.total.resources !== spec.costs.total.resources) {
      throw new Error(`cost total ${JSON.stringify(observed.costs.total)}, paved says ${JSON.stringify(spec.costs.total)}`);
    }
    for (const team of spec.costs.teams) {
      const cells = page.locator(`[data-testid="cost-team-${team.team.slice(team.team.lastIndexOf('/') + 1)}"] td`);
      const shown = { team: team.team, resources: Number(await cells.nth(1).textContent()), monthly: amount(await cells.nth(2).textContent()) };
      if (shown.resources !== team.resources || shown.monthly !== team.monthly) {
        throw new Error(`cost row ${JSON.stringify(shown)}, paved says ${JSON.stringify(team)}`);
      }
      observed.costs.teams.push(shown);
    }
  });

  await step('templates table', () => checkTemplates(spec.templates28, 'templates28'));

  await step('slos', async () => {
    observed.slos = [];
    for (const s of spec.slos.items) {
      const current = s.current === null ? 'no events' : formatPercent(s.current);
      await waitForTestIdText(`slo-${s.name}-target`, formatPercent(s.objective));
      await waitForTestIdText(`slo-${s.name}-current`, current);
      const burn1h = await page.locator(`[data-testid="slo-${s.name}-burn-1h"]`).textContent();
      const status = await page.locator(`[data-testid="slo-${s.name}-status"]`).textContent();
      observed.slos.push({ name: s.name, target: formatPercent(s.objective), current, burn1h, status });
    }
  });

  await step('freshness', async () => {
    // The panel's figures and laggards, as paved's devex/v1/freshness.
    const f = spec.freshness;
    const outdated = `${formatCount(f.outdated)} of ${formatCount(f.services)} services on an outdated template version`;
    await waitForTestIdText('freshness-outdated', outdated);
    observed.freshness = { outdated, laggards: {} };
    for (const l of f.laggards) {
      const name = l.service.slice(l.service.lastIndexOf('/') + 1);
      const row = page.locator(`[data-testid="freshness-laggard-${name}"]`);
      await row.waitFor({ timeout });
      const text = await row.textContent();
      if (!text.includes(`${l.version} → ${l.currentVersion}`)) throw new Error(`laggard ${name} reads ${text}, paved says ${l.version} → ${l.currentVersion}`);
      observed.freshness.laggards[name] = text;
    }
  });

  await step('daily chart', async () => {
    const bars = page.getByRole('img', { name: 'Template runs per day' }).locator('[data-testid="adoption-bar"]');
    await page.waitForFunction(
      n => document.querySelectorAll('svg[aria-label="Template runs per day"] [data-testid="adoption-bar"]').length === n,
      spec.dayPeriods28,
      { timeout },
    );
    observed.dayBars28 = await bars.count();
  });

  await step('csv download', async () => {
    const link = page.getByRole('link', { name: 'Export templates as CSV' });
    await page.waitForFunction(
      () => document.querySelector('a[aria-label="Export templates as CSV"]')?.getAttribute('href')?.includes('format=csv'),
      null,
      { timeout },
    );
    const href = new URL(await link.getAttribute('href'));
    const [download] = await Promise.all([page.waitForEvent('download', { timeout }), link.click()]);
    const text = await readFile(await download.path(), 'utf8');
    if (text !== spec.csvTemplates28) {
      throw new Error(`downloaded CSV differs from paved's:\n${text}\n---\n${spec.csvTemplates28}`);
    }
    observed.csv = { filename: download.suggestedFilename(), href: href.pathname + href.search, lines: text.trim().split('\n').length };
  });

  await step('date range', async () => {
    const asked = devexRequest('summary', { from: spec.range90.from, to: spec.range90.to });
    await page.locator('select[aria-label="Date range"]').selectOption('90d');
    await asked;
    await checkKpis(spec.summary90, 'kpis90');
    await checkTemplates(spec.templates90, 'templates90');
  });

  await step('grouping', async () => {
    const asked = devexRequest('timeseries', { from: spec.range90.from, grouping: 'week' });
    await page.locator('select[aria-label="Group by"]').selectOption('week');
    await asked;
    await page.waitForFunction(
      n => document.querySelectorAll('svg[aria-label="Template runs per week"] [data-testid="adoption-bar"]').length === n,
      spec.weekPeriods90,
      { timeout },
    );
    observed.weekBars90 = spec.weekPeriods90;
  });

  await step('team', async () => {
    const asked = devexRequest('summary', { from: spec.range90.from, owner: spec.team });
    await page.locator('select[aria-label="Team"]').selectOption(spec.team);
    await asked;
    await checkKpis(spec.summaryTeam90, 'kpisTeam90');
  });

  if (spec.screenshots) await page.screenshot({ path: join(spec.artifacts, 'adoption-page.png'), fullPage: true });

  await step('forbidden', async () => {
    const outsider = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
    page = await outsider.newPage();
    page.on('pageerror', e => pageErrors.push(e.message));
    const refused = page.waitForResponse(r => r.url().includes('/api/paved/devex/v1/summary') && r.status() === 403, { timeout });
    await page.goto(`${spec.outsiderUrl}/paved`, { timeout });
    await refused;
    // One notice for the page, carrying paved's own reason, and no figures.
    const notice = page.locator('[data-testid="paved-access-refused"]');
    await notice.waitFor({ timeout });
    await page.getByText('Golden paths adoption').first().waitFor({ timeout });
    const reason = (await notice.textContent()) ?? '';
    if (!reason.includes(spec.forbiddenMessage)) {
      throw new Error(`the notice says ${JSON.stringify(reason)}, want paved's reason ${JSON.stringify(spec.forbiddenMessage)}`);
    }
    if ((await page.locator('[data-testid="kpi-runsStarted"]').count()) !== 0) {
      throw new Error('a refused user sees KPI figures');
    }
    const panels = await page.getByText('Request failed with 403 Forbidden').count();
    if (panels !== 0) throw new Error(`${panels} sections still show the raw 403 error`);
    observed.forbidden = { reason };
    if (spec.screenshots) await page.screenshot({ path: join(spec.artifacts, 'adoption-page-forbidden.png'), fullPage: true });
  });

  await step('feedback', async () => {
    // Each developer in their own browser context (their own Backstage
    // identity), following the template output's link to their run.
    observed.feedback = [];
    for (const dev of spec.feedback) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
      page = await context.newPage();
      page.on('pageerror', e => pageErrors.push(e.message));
      if (dev.othersTaskId) {
        // Another developer's run: paved's refusal, and nothing to rate.
        await page.goto(`${dev.url}/paved?feedback=${dev.othersTaskId}`, { timeout });
        const refusal = page.locator('[data-testid="feedback-focus-error"]');
        await refusal.waitFor({ timeout });
        const text = (await refusal.textContent()) ?? '';
        if (!text.includes(dev.othersRefusal)) throw new Error(`rating another's run: ${JSON.stringify(text)}, want ${JSON.stringify(dev.othersRefusal)}`);
        if ((await page.locator(`[data-testid="feedback-run-${dev.othersTaskId}"]`).count()) !== 0) {
          throw new Error(`another's run ${dev.othersTaskId} is offered for rating`);
        }
      }
      await page.goto(`${dev.url}/paved?feedback=${dev.taskId}`, { timeout });
      const run = page.locator(`[data-testid="feedback-run-${dev.taskId}"]`);
      await run.waitFor({ timeout });
      await run.getByLabel(String(dev.score), { exact: false }).first().check({ timeout });
      await run.getByLabel(`Why, for ${dev.template}`).fill(dev.comment, { timeout });
      const saved = page.waitForResponse(
        r => r.url().includes(`/devex/v1/feedback/runs/${dev.taskId}`) && r.request().method() === 'PUT',
        { timeout },
      );
      await run.getByRole('button', { name: 'Send' }).click({ timeout });
      const response = await saved;
      if (response.status() !== 201) throw new Error(`PUT feedback of ${dev.taskId}: ${response.status()} ${await response.text()}`);
      await run.locator('[data-testid="feedback-saved"]').waitFor({ timeout });
      observed.feedback.push({ taskId: dev.taskId, status: response.status() });
      if (spec.screenshots) await page.screenshot({ path: join(spec.artifacts, `feedback-${dev.taskId}.png`), fullPage: true });
      await context.close();
    }
  });

  await step('satisfaction', async () => {
    // The answers on the page: the platform team sees the score and the
    // comments; a reader of the metrics outside the comment readers sees the
    // score, and a notice instead of the comments (none of their text).
    const want = spec.satisfaction;
    observed.satisfaction = {};
    for (const [viewer, url] of [['platform', want.platformUrl], ['manager', want.managerUrl]]) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
      page = await context.newPage();
      page.on('pageerror', e => pageErrors.push(e.message));
      await page.goto(`${url}/paved`, { timeout });
      await waitForTestIdText('satisfaction-overall', want.score);
      const overall = page.locator('[data-testid="satisfaction-overall"]').locator('xpath=..');
      await overall.getByText(want.responses, { exact: false }).waitFor({ timeout });
      const worst = (await page.locator('[data-testid="satisfaction-worst-stage"]').textContent({ timeout })) ?? '';
      if (!worst.startsWith(want.worstStage)) throw new Error(`the worst-rated step: ${JSON.stringify(worst)}, want ${JSON.stringify(want.worstStage)}`);
      const shown = { score: await page.locator('[data-testid="satisfaction-overall"]').textContent(), worstStage: worst, comments: [], refused: '' };
      if (viewer === 'platform') {
        await page.waitForFunction(n => document.querySelectorAll('[data-testid="feedback-comment"]').length === n, spec.feedback.length, { timeout });
        shown.comments = await page.locator('[data-testid="feedback-comment"]').allTextContents();
        for (const dev of spec.feedback) {
          if (!shown.comments.some(c => c.includes(dev.comment))) throw new Error(`the platform team does not see ${JSON.stringify(dev.comment)}: ${JSON.stringify(shown.comments)}`);
        }
        // The comments' CSV, downloaded as the platform team does.
        const link = page.getByRole('link', { name: 'Export feedback comments as CSV' });
        const [download] = await Promise.all([page.waitForEvent('download', { timeout }), link.click({ timeout })]);
        const text = await readFile(await download.path(), 'utf8');
        shown.csv = { filename: download.suggestedFilename(), lines: text.trim().split('\n').length };
        const missing = spec.feedback.filter(dev => !text.includes(dev.comment));
        if (missing.length > 0) throw new Error(`the comments' CSV lacks ${JSON.stringify(missing.map(d => d.comment))}:\n${text}`);
      } else {
        const refused = page.locator('[data-testid="feedback-comments-refused"]');
        await refused.waitFor({ timeout });
        shown.refused = (await refused.textContent()) ?? '';
        const body = (await page.locator('body').textContent()) ?? '';
        const leaked = spec.feedback.filter(dev => body.includes(dev.comment));
        if (leaked.length > 0 || (await page.locator('[data-testid="feedback-comment"]').count()) !== 0) {
          throw new Error(`a reader outside the comment readers sees comments: ${JSON.stringify(leaked.map(d => d.comment))}`);
        }
      }
      observed.satisfaction[viewer] = shown;
      if (spec.screenshots) await page.screenshot({ path: join(spec.artifacts, `satisfaction-${viewer}.png`), fullPage: true });
      await context.close();
    }
  });

  run.current = 'page errors';
  if (pageErrors.length > 0) throw new Error(`uncaught errors in the page: ${pageErrors.join('; ')}`);
  console.log(JSON.stringify({ ok: true, observed, timings }));
} catch (error) {
  let screenshot = '';
  try {
    await mkdir(spec.artifacts, { recursive: true });
    screenshot = join(spec.artifacts, `failure-${run.current.replace(/\W+/g, '-')}.png`);
    await page?.screenshot({ path: screenshot, fullPage: true });
  } catch {
    screenshot = '';
  }
  console.log(JSON.stringify({ ok: false, step: run.current, error: String(error?.stack ?? error), screenshot, observed, timings, pageErrors }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
