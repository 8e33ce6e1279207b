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

  it('shows 25 templates a page, the next ones on the next page', async () => {
    const items = Array.from({ length: 30 }, (_, i) => row(`tpl-${String(i).padStart(2, '0')}`, 100 - i, 0.9));
    await renderInTestApp(<TemplatesTable items={items} />);

    const names = () =>
      screen.getAllByRole('row').slice(1).map(r => within(r).getAllByRole('cell')[0].textContent);
    expect(names()).toHaveLength(25);
    expect(names()[0]).toBe('tpl-00');
    expect(screen.getByTestId('templates-pagination')).toHaveTextContent('1-25 of 30');

    await userEvent.click(screen.getByRole('button', { name: 'Next page' }));
    expect(names()).toEqual(['tpl-25', 'tpl-26', 'tpl-27', 'tpl-28', 'tpl-29']);
    // Sorting sorts every template, not the page shown.
    await userEvent.click(screen.getByText('Runs'));
    expect(names()).toEqual(['tpl-04', 'tpl-03', 'tpl-02', 'tpl-01', 'tpl-00']);
  });

  it('has no pagination when one page holds every template', async () => {
    await renderInTestApp(<TemplatesTable items={[row('go-service', 42, 0.95)]} />);
    expect(screen.queryByTestId('templates-pagination')).not.toBeInTheDocument();
  });
});
