import { renderInTestApp } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { CostPanel, formatMoney } from './CostPanel';

describe('CostPanel', () => {
  it('shows each team against its budget, its kinds, and the trend', async () => {
    await renderInTestApp(
      <CostPanel
        report={{
          from: '2026-11-01T00:00:00Z',
          to: '2026-11-29T00:00:00Z',
          currency: 'USD',
          total: { monthly: 1590, resources: 4, spend: 512.33 },
          teams: [
            { team: 'group:default/payments', monthly: 1080, resources: 3, spend: 400.5, budget: 1000 },
            { team: 'group:default/shop', monthly: 510, resources: 1, spend: 111.83 },
          ],
          kinds: [
            { team: 'group:default/payments', kind: 'postgresql', monthly: 960, resources: 2, spend: 380 },
            { team: 'group:default/payments', kind: 's3-bucket', monthly: 120, resources: 1, spend: 20.5 },
            { team: 'group:default/shop', kind: 'postgresql', monthly: 510, resources: 1, spend: 111.83 },
          ],
          timeseries: [
            { period: '2026-11-01', spend: 10 },
            { period: '2026-11-02', spend: 20 },
          ],
        }}
      />,
    );
    expect(screen.getByTestId('cost-total')).toHaveTextContent(
      '1,590 USD/month now for 4 resources; 512.33 USD spent in this period',
    );
    expect(screen.getByTestId('cost-team-payments')).toHaveTextContent('payments31,080 USD400.5 USD1,000 USD (108% used)');
    expect(screen.getByTestId('cost-team-shop')).toHaveTextContent('shop1510 USD111.83 USD—');
    expect(screen.getByTestId('cost-kind-payments-s3-bucket')).toHaveTextContent('s3-bucket1120 USD20.5 USD');
    expect(screen.getByTestId('cost-trend').children).toHaveLength(2);
  });

  it('says so when nothing is priced', async () => {
    await renderInTestApp(
      <CostPanel
        report={{ from: '', to: '', currency: '', total: { monthly: 0, resources: 0, spend: 0 }, teams: [], kinds: [], timeseries: [] }}
      />,
    );
    expect(screen.getByText('No priced infrastructure in this period.')).toBeInTheDocument();
  });

  it('writes amounts as paved rounds them', () => {
    expect(formatMoney(480, 'USD')).toBe('480 USD');
    expect(formatMoney(1234.567, 'EUR')).toBe('1,234.57 EUR');
  });
});
