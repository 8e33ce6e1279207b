import { Box, Table, TableBody, TableCell, TableHead, TableRow, Typography, makeStyles } from '@material-ui/core';
import { CostReport } from '../../api';
import { formatRatio, refName } from '../format';

const useStyles = makeStyles(theme => ({
  over: { color: theme.palette.error.main, fontWeight: 600 },
  kind: { paddingLeft: theme.spacing(4), color: theme.palette.text.secondary },
  trend: { display: 'flex', alignItems: 'flex-end', gap: 2, height: 48, marginTop: theme.spacing(2) },
  bar: { flex: 1, background: theme.palette.primary.main, minHeight: 1, borderRadius: 2 },
}));

/** An amount as paved writes it (at most two decimals), with its currency: "480 USD", "1,234.5 USD". */
export function formatMoney(amount: number, currency: string): string {
  const text = amount.toLocaleString('en-US', { maximumFractionDigits: 2 });
  return currency ? `${text} ${currency}` : text;
}

/**
 * What each team's golden-path infrastructure costs: per month now (resources
 * alive × their kind's price, the figure of the paved.infra.cost.monthly
 * gauge), spent in the range (prorated by the time each resource was alive),
 * against the team's budget, per kind, with the spend's trend.
 */
export function CostPanel({ report }: { report: CostReport }) {
  const classes = useStyles();
  if (report.teams.length === 0) {
    return <Typography color="textSecondary">No priced infrastructure in this period.</Typography>;
  }
  const money = (n: number) => formatMoney(n, report.currency);
  const peak = Math.max(...report.timeseries.map(p => p.spend), 0);
  return (
    <Box>
      <Typography variant="body2" data-testid="cost-total">
        {`${money(report.total.monthly)}/month now for ${report.total.resources} resources; ${money(report.total.spend)} spent in this period`}
      </Typography>
      <Table size="small">
        <TableHead>
          <TableRow>
            <TableCell>Team / kind</TableCell>
            <TableCell align="right">Resources</TableCell>
            <TableCell align="right">Per month now</TableCell>
            <TableCell align="right">Spent in period</TableCell>
            <TableCell align="right">Budget</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {report.teams.map(team => {
            const over = team.budget !== undefined && team.monthly > team.budget;
            return [
              <TableRow key={team.team} data-testid={`cost-team-${refName(team.team)}`}>
                <TableCell>{refName(team.team)}</TableCell>
                <TableCell align="right">{team.resources}</TableCell>
                <TableCell align="right">{money(team.monthly)}</TableCell>
                <TableCell align="right">{money(team.spend)}</TableCell>
                <TableCell align="right" className={over ? classes.over : undefined}>
                  {team.budget === undefined
                    ? '—'
                    : `${money(team.budget)} (${formatRatio(team.budget > 0 ? team.monthly / team.budget : 0)} used)`}
                </TableCell>
              </TableRow>,
              ...report.kinds
                .filter(k => k.team === team.team)
                .map(k => (
                  <TableRow key={`${k.team}/${k.kind}`} data-testid={`cost-kind-${refName(k.team)}-${k.kind}`}>
                    <TableCell className={classes.kind}>{k.kind}</TableCell>
                    <TableCell align="right">{k.resources}</TableCell>
                    <TableCell align="right">{money(k.monthly)}</TableCell>
                    <TableCell align="right">{money(k.spend)}</TableCell>
                    <TableCell />
                  </TableRow>
                )),
            ];
          })}
        </TableBody>
      </Table>
      {peak > 0 && (
        <div className={classes.trend} aria-label="Spend per period" data-testid="cost-trend">
          {report.timeseries.map(p => (
            <div
              key={p.period}
              className={classes.bar}
              title={`${p.period}: ${money(p.spend)}`}
              style={{ height: `${(p.spend / peak) * 100}%` }}
            />
          ))}
        </div>
      )}
    </Box>
  );
}
