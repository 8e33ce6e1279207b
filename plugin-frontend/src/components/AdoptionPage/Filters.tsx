import { Grid, TextField } from '@material-ui/core';
import { Grouping } from '../../api';
import { refName } from '../format';

export type Range = '7d' | '28d' | '90d' | '365d' | 'custom';

export type FilterState = {
  range: Range;
  /** YYYY-MM-DD, used when range is custom. */
  from: string;
  to: string;
  grouping: Grouping;
  /** Group entity ref, or '' for every team. */
  owner: string;
};

const ranges: { value: Range; label: string }[] = [
  { value: '7d', label: 'Last 7 days' },
  { value: '28d', label: 'Last 28 days' },
  { value: '90d', label: 'Last 90 days' },
  { value: '365d', label: 'Last 12 months' },
  { value: 'custom', label: 'Custom' },
];

/** The dates a range stands for, ending today (UTC), both days included. */
export function rangeDates(state: FilterState, today: Date): { from: string; to: string } {
  if (state.range === 'custom') return { from: state.from, to: state.to };
  const days = Number(state.range.replace('d', ''));
  const from = new Date(today.getTime() - (days - 1) * 86400000);
  return { from: isoDate(from), to: isoDate(today) };
}

export function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Date range, grouping and team (owner) filters for the whole page. */
export function Filters({
  state,
  owners,
  onChange,
}: {
  state: FilterState;
  owners: string[];
  onChange: (next: FilterState) => void;
}) {
  const set = (patch: Partial<FilterState>) => onChange({ ...state, ...patch });
  return (
    <Grid container spacing={2} alignItems="center">
      <Grid item>
        <TextField
          select
          label="Date range"
          value={state.range}
          onChange={e => set({ range: e.target.value as Range })}
          SelectProps={{ native: true }}
          InputLabelProps={{ shrink: true }}
          inputProps={{ 'aria-label': 'Date range' }}
          variant="outlined"
          size="small"
        >
          {ranges.map(r => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </TextField>
      </Grid>
      {state.range === 'custom' && (
        <>
          <Grid item>
            <TextField
              type="date"
              label="From"
              value={state.from}
              onChange={e => set({ from: e.target.value })}
              InputLabelProps={{ shrink: true }}
              inputProps={{ 'aria-label': 'From' }}
              variant="outlined"
              size="small"
            />
          </Grid>
          <Grid item>
            <TextField
              type="date"
              label="To"
              value={state.to}
              onChange={e => set({ to: e.target.value })}
              InputLabelProps={{ shrink: true }}
              inputProps={{ 'aria-label': 'To' }}
              variant="outlined"
              size="small"
            />
          </Grid>
        </>
      )}
      <Grid item>
        <TextField
          select
          label="Group by"
          value={state.grouping}
          onChange={e => set({ grouping: e.target.value as Grouping })}
          SelectProps={{ native: true }}
          InputLabelProps={{ shrink: true }}
          inputProps={{ 'aria-label': 'Group by' }}
          variant="outlined"
          size="small"
        >
          <option value="day">Day</option>
          <option value="week">Week</option>
          <option value="month">Month</option>
        </TextField>
      </Grid>
      <Grid item>
        <TextField
          select
          label="Team"
          value={state.owner}
          onChange={e => set({ owner: e.target.value })}
          SelectProps={{ native: true }}
          InputLabelProps={{ shrink: true }}
          inputProps={{ 'aria-label': 'Team' }}
          variant="outlined"
          size="small"
        >
          <option value="">All teams</option>
          {owners.map(o => (
            <option key={o} value={o}>
              {refName(o)}
            </option>
          ))}
        </TextField>
      </Grid>
    </Grid>
  );
}
