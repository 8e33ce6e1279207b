import { renderInTestApp } from '@backstage/test-utils';
import { fireEvent, screen } from '@testing-library/react';
import { FilterState, Filters, rangeDates } from './Filters';

const state: FilterState = { range: '28d', from: '', to: '', grouping: 'day', owner: '' };

describe('rangeDates', () => {
  const today = new Date('2026-11-28T15:30:00Z');

  it.each([
    ['7d', '2026-11-22'],
    ['28d', '2026-11-01'],
    ['90d', '2026-08-31'],
    ['365d', '2025-11-29'],
  ] as const)('%s ends today and counts today as its last day', (range, from) => {
    expect(rangeDates({ ...state, range }, today)).toEqual({ from, to: '2026-11-28' });
  });

  it('takes a custom range as given', () => {
    expect(rangeDates({ ...state, range: 'custom', from: '2026-09-01', to: '2026-09-30' }, today)).toEqual({
      from: '2026-09-01',
      to: '2026-09-30',
    });
  });
});

describe('Filters', () => {
  it('offers every team by name and changes only the field the user touched', async () => {
    const onChange = jest.fn();
    await renderInTestApp(
      <Filters state={state} owners={['group:default/payments', 'group:default/search']} onChange={onChange} />,
    );

    expect(screen.getByRole('option', { name: 'All teams' })).toBeInTheDocument();
    expect(screen.getByRole('option', { name: 'payments' })).toHaveValue('group:default/payments');
    expect(screen.queryByLabelText('From')).not.toBeInTheDocument();

    fireEvent.change(screen.getByLabelText('Team'), { target: { value: 'group:default/search' } });
    expect(onChange).toHaveBeenLastCalledWith({ ...state, owner: 'group:default/search' });

    fireEvent.change(screen.getByLabelText('Group by'), { target: { value: 'month' } });
    expect(onChange).toHaveBeenLastCalledWith({ ...state, grouping: 'month' });
  });

  it('shows the dates of a custom range', async () => {
    const onChange = jest.fn();
    const custom: FilterState = { ...state, range: 'custom', from: '2026-09-01', to: '2026-09-30' };
    await renderInTestApp(<Filters state={custom} owners={[]} onChange={onChange} />);

    expect(screen.getByLabelText('From')).toHaveValue('2026-09-01');
    fireEvent.change(screen.getByLabelText('To'), { target: { value: '2026-10-15' } });
    expect(onChange).toHaveBeenLastCalledWith({ ...custom, to: '2026-10-15' });
  });
});
