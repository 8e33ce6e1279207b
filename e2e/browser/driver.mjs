// What the browser drivers (drive.mjs, drive-cards.mjs) share: the system
// Chromium launched as the tests need it, and steps timed by name, the
// current one named in a failure.
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
