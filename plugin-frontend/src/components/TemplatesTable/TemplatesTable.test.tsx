import { renderInTestApp } from '@backstage/test-utils';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { TemplateStats } from '../../api';
import { TemplatesTable } from './TemplatesTable';

const row = (name: string, runs: number, successRate: number): TemplateStats => ({
  templateRef: `template:default/${name}`,
  runs,
  succeeded: Math.round(runs * successRate),
  failed: runs - Math.round(runs * successRate),
  cancelled: 0,
  successRate,
  p50DurationSeconds: 95,
  p95DurationSeconds: 4000,
  uniqueUsers: 7,
  timeSavedSeconds: 7200,
});

describe('TemplatesTable', () => {
  it('lists templates with most runs first and sorts by a clicked column', async () => {
    await renderInTestApp(
      <TemplatesTable items={[row('react-app', 5, 0.6), row('go-service', 42, 0.95)]} />,
    );

    const names = () =>
      screen.getAllByRole('row').slice(1).map(r => within(r).getAllByRole('cell')[0].textContent);
    expect(names()).toEqual(['go-service', 'react-app']);
    const first = within(screen.getAllByRole('row')[1]).getAllByRole('cell').map(c => c.textContent);
    expect(first).toEqual(['go-service', '42', '95%', '1.6 min', '1.1 h', '7', '2 h']);

    await userEvent.click(screen.getByText('Success'));
    expect(names()).toEqual(['go-service', 'react-app']);
    await userEvent.click(screen.getByText('Success'));
    expect(names()).toEqual(['react-app', 'go-service']);
  });
});
