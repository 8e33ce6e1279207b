import { renderInTestApp } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { AdoptionChart } from './AdoptionChart';

describe('AdoptionChart', () => {
  it('draws one bar per period, with its figures in the tooltip', async () => {
    await renderInTestApp(
      <AdoptionChart
        timeseries={{
          grouping: 'week',
          items: [
            { period: '2026-11-02', runsStarted: 10, runsSucceeded: 7, runsFailed: 2, runsCancelled: 1, activeUsers: 4, timeSavedSeconds: 0 },
            { period: '2026-11-09', runsStarted: 20, runsSucceeded: 20, runsFailed: 0, runsCancelled: 0, activeUsers: 9, timeSavedSeconds: 0 },
          ],
        }}
      />,
    );

    expect(screen.getByRole('img', { name: 'Template runs per week' })).toBeInTheDocument();
    const bars = screen.getAllByTestId('adoption-bar');
    expect(bars).toHaveLength(2);
    expect(bars[0].querySelector('title')).toHaveTextContent(
      '2026-11-02: 10 started, 7 succeeded, 2 failed, 4 active users',
    );
    // The tallest period fills the chart; the first is half as tall.
    const heights = (bar: Element) =>
      [...bar.querySelectorAll('rect')].reduce((sum, r) => sum + Number(r.getAttribute('height')), 0);
    expect(heights(bars[1])).toBeCloseTo(160);
    expect(heights(bars[0])).toBeCloseTo(80);
  });

  it('says so when there were no runs', async () => {
    await renderInTestApp(<AdoptionChart timeseries={{ grouping: 'day', items: [] }} />);
    expect(screen.getByText('No template runs in this period.')).toBeInTheDocument();
  });
});
