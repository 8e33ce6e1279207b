import { renderInTestApp } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { Slos } from '../../api';
import { formatPercent } from '../format';
import { SloPanel } from './SloPanel';

const alerts: Slos['alerts'] = [
  { severity: 'page', long: '1h', short: '5m', factor: 14.4 },
  { severity: 'ticket', long: '3d', short: '6h', factor: 1 },
];

describe('SloPanel', () => {
  it('shows target, current, budget left, burn rates and the alert of each objective', async () => {
    await renderInTestApp(
      <SloPanel
        slos={{
          alerts,
          items: [
            {
              name: 'service-runs', sli: 'runSuccess', template: 'template:default/service', objective: 0.95,
              windowSeconds: 2592000, current: 0.8333, good: 5, total: 6, budgetRemaining: -2.3333,
              burnRates: { '5m': 20, '30m': 5, '1h': 15, '2h': 3.3333, '6h': 3.3333, '1d': 3.3333, '3d': 3.3333 },
              alert: 'page',
            },
            {
              name: 'action-availability', sli: 'availability', objective: 0.995, windowSeconds: 2592000,
              current: null, good: 0, total: 0, budgetRemaining: 1,
              burnRates: { '5m': 0, '30m': 0, '1h': 0, '2h': 0, '6h': 0, '1d': 0, '3d': 0 },
              alert: '',
            },
            {
              name: 'time-to-healthy', sli: 'timeToHealthy', objective: 0.95, thresholdSeconds: 600, windowSeconds: 2592000,
              current: 0.97, good: 97, total: 100, budgetRemaining: 0.4,
              burnRates: { '5m': 0, '30m': 0, '1h': 0, '2h': 0, '6h': 0, '1d': 0.5, '3d': 0.6 },
              alert: '',
            },
          ],
        }}
      />,
    );
    expect(screen.getByTestId('slo-service-runs')).toHaveTextContent('Runs succeed · service · 30 d');
    expect(screen.getByTestId('slo-service-runs-target')).toHaveTextContent('95%');
    expect(screen.getByTestId('slo-service-runs-current')).toHaveTextContent('83.33%');
    expect(screen.getByTestId('slo-service-runs-budget')).toHaveTextContent('spent (-233.33%)');
    expect(screen.getByTestId('slo-service-runs-burn-5m')).toHaveTextContent('20×');
    expect(screen.getByTestId('slo-service-runs-burn-1d')).toHaveTextContent('3.3×');
    expect(screen.getByTestId('slo-service-runs-status')).toHaveTextContent('Page');
    expect(screen.getByTestId('slo-action-availability-target')).toHaveTextContent('99.5%');
    expect(screen.getByTestId('slo-action-availability-current')).toHaveTextContent('no events');
    expect(screen.getByTestId('slo-action-availability-status')).toHaveTextContent('OK');
    expect(screen.getByTestId('slo-time-to-healthy')).toHaveTextContent('Healthy within 10 min');
    expect(screen.getByTestId('slo-time-to-healthy-budget')).toHaveTextContent('40%');
    expect(screen.getByText(/page when 1h and 5m burn above 14.4/)).toBeInTheDocument();
  });

  it('says how to add objectives when there are none', async () => {
    await renderInTestApp(<SloPanel slos={{ alerts, items: [] }} />);
    expect(screen.getByText(/set devex.slos/)).toBeInTheDocument();
  });

  it('formats objectives with their decimals', () => {
    expect(formatPercent(0.995)).toBe('99.5%');
    expect(formatPercent(0.95)).toBe('95%');
    expect(formatPercent(0.99999)).toBe('100%');
  });
});
