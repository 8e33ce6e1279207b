import { formatChange, formatDuration, formatRatio, refName } from './format';

describe('format', () => {
  it.each([
    [12, '12 s'],
    [210, '3.5 min'],
    [3600, '1 h'],
    [45000, '13 h'],
    [362880, '4.2 d'],
  ])('writes %p seconds as %p', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('writes changes relative for counts and in points for ratios', () => {
    expect(formatChange(120, 100, 'relative')).toBe('+20%');
    expect(formatChange(80, 100, 'relative')).toBe('−20%');
    expect(formatChange(5, 0, 'relative')).toBe('new');
    expect(formatChange(0.93, 0.9, 'points')).toBe('+3.0 pp');
    expect(formatChange(0.5, 0.75, 'points')).toBe('−25.0 pp');
  });

  it('writes ratios and refs', () => {
    expect(formatRatio(0.934)).toBe('93%');
    expect(formatRatio(0.05)).toBe('5.0%');
    expect(refName('template:default/go-service')).toBe('go-service');
  });
});
