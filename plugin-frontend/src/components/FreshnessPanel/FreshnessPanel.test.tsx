import { renderInTestApp } from '@backstage/test-utils';
import { screen, within } from '@testing-library/react';
import { Freshness } from '../../api';
import { FreshnessPanel, shortVersion } from './FreshnessPanel';

const freshness: Freshness = {
  services: 3,
  outdated: 2,
  templates: [
    { templateRef: 'template:default/go-service', currentVersion: '1.2.0', services: 3, outdated: 2, maxVersionsBehind: 2, maxDaysBehind: 40 },
  ],
  teams: [
    { owner: 'group:default/payments', services: 2, outdated: 2, maxVersionsBehind: 2, maxDaysBehind: 40 },
    { owner: 'group:default/search', services: 1, outdated: 0, maxVersionsBehind: 0, maxDaysBehind: 0 },
  ],
  laggards: [
    { service: 'component:default/checkout', templateRef: 'template:default/go-service', owner: 'group:default/payments', version: '1.0.0',
      currentVersion: '1.2.0', outdated: true, versionsBehind: 2, daysBehind: 40, createdAt: '2026-09-01T10:00:00Z' },
    { service: 'component:default/cart', templateRef: 'template:default/go-service', owner: 'group:default/payments', version: '1.1.0',
      currentVersion: '1.2.0', outdated: true, versionsBehind: 1, daysBehind: 12, createdAt: '2026-10-01T10:00:00Z' },
  ],
  laggardsTotal: 5,
};

describe('FreshnessPanel', () => {
  it('shows outdated services per template and team and the laggards, furthest behind first', async () => {
    await renderInTestApp(<FreshnessPanel freshness={freshness} />);
    expect(screen.getByTestId('freshness-outdated')).toHaveTextContent('2 of 3 services on an outdated template version');
    const tpl = within(screen.getByTestId('freshness-template-go-service'));
    expect(tpl.getByText('1.2.0')).toBeInTheDocument();
    expect(tpl.getByText('2 versions · 40 d')).toBeInTheDocument();
    expect(screen.getByTestId('freshness-team-search')).toHaveTextContent('0 of 1');
    expect(screen.getByTestId('freshness-team-search')).toHaveTextContent('—');
    const rows = screen.getAllByTestId(/^freshness-laggard-/);
    expect(rows.map(r => r.getAttribute('data-testid'))).toEqual(['freshness-laggard-checkout', 'freshness-laggard-cart']);
    expect(rows[0]).toHaveTextContent('1.0.0 → 1.2.0');
    expect(rows[1]).toHaveTextContent('1 version · 12 d');
    expect(screen.getByText(/The 2 furthest behind of 5/)).toBeInTheDocument();
  });

  it('says so when no service has a known version', async () => {
    await renderInTestApp(<FreshnessPanel freshness={{ ...freshness, services: 0, outdated: 0, templates: [], teams: [], laggards: [], laggardsTotal: 0 }} />);
    expect(screen.getByText(/No service with a known template version/)).toBeInTheDocument();
  });

  it('shortens etags, not versions', () => {
    expect(shortVersion('6013904a9ee7cad3a7847c0e29ec1da64c04fc92')).toBe('6013904a');
    expect(shortVersion('1.4.0')).toBe('1.4.0');
  });
});
