/** How the page writes numbers, ratios and durations, in one place so every section agrees. */

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** 1, "deploy" → "1 deploy"; 3 → "3 deploys". */
export function formatCountOf(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${Math.round(n) === 1 ? '' : 's'}`;
}

/** 0.934 → "93%" (one decimal below 10%). */
export function formatRatio(r: number): string {
  const pct = r * 100;
  return `${pct < 10 && pct !== 0 ? pct.toFixed(1) : Math.round(pct)}%`;
}

/** 0.995 → "99.5%", -2.3333 → "-233.33%": objectives and error budgets need their decimals. */
export function formatPercent(r: number): string {
  return `${Number((r * 100).toFixed(2))}%`;
}

/** Seconds in the largest unit that keeps the number readable: 45 s, 3.5 min, 12 h, 4.2 d. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${trim(seconds / 60)} min`;
  if (seconds < 86400 * 2) return `${trim(seconds / 3600)} h`;
  return `${trim(seconds / 86400)} d`;
}

function trim(n: number): string {
  return n >= 10 ? String(Math.round(n)) : n.toFixed(1).replace(/\.0$/, '');
}

/** The name part of an entity ref: `template:default/service` → `service`. */
export function refName(ref: string): string {
  return ref.slice(ref.lastIndexOf('/') + 1) || ref;
}

/**
 * The change from the previous period: relative for counts and durations
 * ("+20%"), in percentage points for ratios ("+3.0 pp").
 */
export function formatChange(
  value: number,
  previous: number,
  kind: 'relative' | 'points',
): string {
  if (kind === 'points') {
    const pp = (value - previous) * 100;
    return `${pp >= 0 ? '+' : '−'}${Math.abs(pp).toFixed(1)} pp`;
  }
  if (previous === 0) return value === 0 ? '±0%' : 'new';
  const pct = ((value - previous) / previous) * 100;
  return `${pct >= 0 ? '+' : '−'}${Math.abs(Math.round(pct))}%`;
}
