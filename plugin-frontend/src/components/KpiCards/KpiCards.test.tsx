import { renderInTestApp } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { Summary } from '../../api';
import { KpiCards, kpiPending } from './KpiCards';

const k = (value: number, previous: number) => ({ value, previous });
const summary: Summary = {
  from: '2026-11-01',
  to: '2026-11-28',
  previousFrom: '2026-10-04',
  previousTo: '2026-10-31',
  kpis: {
    runsStarted: k(120, 100),
    runsSucceeded: k(111, 90),
    runsFailed: k(9, 10),
    successRate: k(0.93, 0.9),
    activeUsers: k(40, 50),
    timeSavedSeconds: k(45000, 36000),
    coverage: k(0.5, 0.5),
    medianTimeToHealthySeconds: k(600, 900),
    deployments: k(70, 60),
  },
};

describe('KpiCards', () => {
  it('shows each KPI with its change against the previous period', async () => {
    await renderInTestApp(<KpiCards summary={summary} />);

    expect(screen.getByTestId('kpi-runsStarted')).toHaveTextContent('120');
    expect(screen.getByText('+20%')).toBeInTheDocument();
    expect(screen.getByTestId('kpi-successRate')).toHaveTextContent('93%');
    expect(screen.getByText('+3.0 pp')).toBeInTheDocument();
    expect(screen.getByTestId('kpi-activeUsers')).toHaveTextContent('40');
    expect(screen.getByText('−20%')).toBeInTheDocument();
    expect(screen.getByTestId('kpi-timeSavedSeconds')).toHaveTextContent('13 h');
    expect(screen.getByTestId('kpi-coverage')).toHaveTextContent('50%');
    expect(screen.getByText('+0.0 pp')).toBeInTheDocument();
    expect(screen.getByTestId('kpi-medianTimeToHealthySeconds')).toHaveTextContent('10 min');
    expect(screen.getByText('vs 15 min before')).toBeInTheDocument();
  });

  it('lays the cards out with a placeholder for each figure until paved answers', async () => {
    await renderInTestApp(<KpiCards />);

    expect(screen.getByText('Template runs')).toBeInTheDocument();
    expect(screen.getByText('Median time to healthy')).toBeInTheDocument();
    for (const key of ['runsStarted', 'successRate', 'activeUsers', 'timeSavedSeconds', 'coverage', 'medianTimeToHealthySeconds']) {
      expect(screen.getByTestId(`kpi-${key}`)).toHaveTextContent(kpiPending);
    }
    expect(screen.queryByText(/before$/)).not.toBeInTheDocument();
  });
});
