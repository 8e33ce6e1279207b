import { Box, Chip, Table, TableBody, TableCell, TableHead, TableRow, Tooltip, Typography, makeStyles } from '@material-ui/core';
import { BurnWindow, SloStatus, Slos } from '../../api';
import { formatCount, formatDuration, formatPercent, refName } from '../format';

/** The windows the panel shows, in the pairs the alert conditions read them. */
const shownWindows: BurnWindow[] = ['5m', '1h', '6h', '1d', '3d'];


const sliLabels: Record<SloStatus['sli'], string> = {
  runSuccess: 'Runs succeed',
  timeToHealthy: 'Healthy within',
  availability: "paved's action calls answer",
};

function describe(s: SloStatus): string {
  const what = s.sli === 'timeToHealthy' ? `${sliLabels[s.sli]} ${formatDuration(s.thresholdSeconds ?? 0)}` : sliLabels[s.sli];
  return `${what} · ${s.template ? refName(s.template) : 'all templates'} · ${formatDuration(s.windowSeconds)}`;
}

const useStyles = makeStyles(theme => ({
  page: { background: theme.palette.error.main, color: theme.palette.error.contrastText },
  ticket: { background: theme.palette.warning.main, color: theme.palette.warning.contrastText },
  ok: { background: theme.palette.success.main, color: theme.palette.success.contrastText },
  budgetBar: { height: 6, borderRadius: 3, background: theme.palette.grey[300], overflow: 'hidden', width: 120 },
  burnHigh: { color: theme.palette.error.main, fontWeight: 600 },
}));

/** The band of a budget: plenty, running low, spent. */
function budgetBand(remaining: number): 'ok' | 'ticket' | 'page' {
  if (remaining > 0.25) return 'ok';
  if (remaining > 0) return 'ticket';
  return 'page';
}

/** What the status chip says, and its band. */
function statusOf(s: SloStatus): { label: string; band: 'ok' | 'ticket' | 'page' } {
  if (s.alert === 'page') return { label: 'Page', band: 'page' };
  if (s.alert === 'ticket') return { label: 'Ticket', band: 'ticket' };
  if (s.budgetRemaining <= 0) return { label: 'Budget spent', band: 'ticket' };
  return { label: 'OK', band: 'ok' };
}

function Budget({ remaining }: { remaining: number }) {
  const classes = useStyles();
  const left = Math.max(0, Math.min(1, remaining));
  return (
    <Box>
      <Typography variant="body2">{remaining <= 0 ? `spent (${formatPercent(remaining)})` : formatPercent(remaining)}</Typography>
      <div className={classes.budgetBar}>
        <div className={classes[budgetBand(remaining)]} style={{ width: `${left * 100}%`, height: '100%' }} />
      </div>
    </Box>
  );
}

/**
 * The objectives of the golden paths and of paved: target, current,
 * error budget left, burn rates, and whether the SRE workbook's page or
 * ticket conditions hold.
 */
export function SloPanel({ slos }: { slos: Slos }) {
  const classes = useStyles();
  if (slos.items.length === 0) {
    return <Typography color="textSecondary">No objectives: set devex.slos in paved's configuration.</Typography>;
  }
  const conditions = slos.alerts
    .map(a => `${a.severity} when ${a.long} and ${a.short} burn above ${a.factor}`)
    .join('; ');
  return (
    <Box>
      <Table size="small">
        <TableHead>
          <TableRow>
            <TableCell>Objective</TableCell>
            <TableCell align="right">Target</TableCell>
            <TableCell align="right">Current</TableCell>
            <TableCell>Error budget left</TableCell>
            {shownWindows.map(w => (
              <TableCell align="right" key={w}>
                Burn {w}
              </TableCell>
            ))}
            <TableCell>Status</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {slos.items.map(s => (
            <TableRow key={s.name} data-testid={`slo-${s.name}`}>
              <TableCell>
                <Typography variant="body2">{s.name}</Typography>
                <Typography variant="caption" color="textSecondary">
                  {describe(s)}
                </Typography>
              </TableCell>
              <TableCell align="right" data-testid={`slo-${s.name}-target`}>
                {formatPercent(s.objective)}
              </TableCell>
              <TableCell align="right" data-testid={`slo-${s.name}-current`}>
                <Tooltip title={`${formatCount(s.good)} good of ${formatCount(s.total)}`}>
                  <span>{s.current === null ? 'no events' : formatPercent(s.current)}</span>
                </Tooltip>
              </TableCell>
              <TableCell data-testid={`slo-${s.name}-budget`}>
                <Budget remaining={s.budgetRemaining} />
              </TableCell>
              {shownWindows.map(w => (
                <TableCell align="right" key={w} data-testid={`slo-${s.name}-burn-${w}`} className={s.burnRates[w] > 1 ? classes.burnHigh : undefined}>
                  {s.burnRates[w].toFixed(s.burnRates[w] >= 10 ? 0 : 1)}×
                </TableCell>
              ))}
              <TableCell data-testid={`slo-${s.name}-status`}>
                <Chip size="small" className={classes[statusOf(s).band]} label={statusOf(s).label} />
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <Typography variant="caption" color="textSecondary">
        Burn rate 1× spends the budget exactly over the window. Alerts: {conditions}.
      </Typography>
    </Box>
  );
}
