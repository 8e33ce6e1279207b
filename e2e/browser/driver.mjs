// What the browser drivers (drive.mjs, drive-cards.mjs, drive-scale.mjs)
// share: the system Chromium launched as the tests need it, steps timed by
// name, the current one named in a failure, and the KPI cards' texts.
import { chromium } from 'playwright-core';

/** Launches the spec's Chromium headless (root in a container: no sandbox). */
export function launchChromium(spec, timeout) {
  return chromium.launch({
    executablePath: spec.chromium,
    headless: true,
    // Root in a container has no user namespace for the sandbox.
    args: ['--no-sandbox'],
    timeout,
  });
}

/** Steps timed by name in timings; current is the step running (or the last set). */
export function stepper() {
  const s = {
    timings: {},
    current: 'launch',
    async step(name, fn) {
      s.current = name;
      const started = performance.now();
      await fn();
      s.timings[name] = Math.round(performance.now() - started);
    },
  };
  return s;
}

/**
 * The texts of the KPI cards the adoption page shows for summary, by
 * data-testid, written by the page's own formatting (format: the bundle's
 * format.mjs) as KpiCards' specs write each.
 */
export function kpiTexts(format, summary) {
  const { formatCount, formatDuration, formatRatio } = format;
  const kpis = {
    runsStarted: formatCount,
    successRate: formatRatio,
    activeUsers: formatCount,
    timeSavedSeconds: formatDuration,
    coverage: formatRatio,
    medianTimeToHealthySeconds: formatDuration,
  };
  return Object.fromEntries(Object.entries(kpis).map(([key, f]) => [`kpi-${key}`, f(summary.kpis[key].value)]));
}

/**
 * An init script (page.addInitScript) keeping the page's long tasks (over
 * 50 ms on the main thread) in globalThis.__pavedLongTasks, from the start
 * of the page: what held up a render.
 */
export function observeLongTasks() {
  globalThis.__pavedLongTasks = [];
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) globalThis.__pavedLongTasks.push({ start: Math.round(e.startTime), ms: Math.round(e.duration) });
  }).observe({ type: 'longtask', buffered: true });
}

/** The page's devex answers as resource timing saw them (start and end on the page's clock, bytes), and its long tasks. */
export function renderTimeline(page) {
  return page.evaluate(() => ({
    answers: performance
      .getEntriesByType('resource')
      .filter(e => new URL(e.name).pathname.startsWith('/api/paved/devex/v1/'))
      .map(e => ({
        path: new URL(e.name).pathname.slice('/api/paved/devex/v1/'.length),
        start: Math.round(e.startTime),
        end: Math.round(e.responseEnd),
        bytes: e.encodedBodySize,
      })),
    longTasks: globalThis.__pavedLongTasks ?? [],
  }));
}

/**
 * An init script (page.addInitScript, with the KPI cards' texts by
 * data-testid) noting in globalThis.__pavedKpisAt the page's clock at the
 * first animation frame in which every KPI card shows its text. It runs in
 * the page from its start, so the moment does not depend on when the
 * driver, a process of its own on a loaded machine, gets to look.
 */
export function watchKpis(want) {
  const check = () => {
    if (Object.entries(want).every(([id, text]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === text)) {
      globalThis.__pavedKpisAt = performance.now();
      return;
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}

/** The page's clock when watchKpis saw every KPI card (waits for it). */
export async function kpisShownAt(page, timeout) {
  const at = await page.waitForFunction(() => globalThis.__pavedKpisAt, null, { timeout });
  return at.jsonValue();
}
