import { Box, Card, CardContent, Grid, Typography, makeStyles } from '@material-ui/core';
import { Kpi, Summary } from '../../api';
import { formatChange, formatCount, formatDuration, formatRatio } from '../format';

const useStyles = makeStyles(theme => ({
  value: { fontSize: '2rem', fontWeight: 600, lineHeight: 1.2 },
  better: { color: theme.palette.success.main },
  worse: { color: theme.palette.error.main },
  same: { color: theme.palette.text.secondary },
}));

type KpiSpec = {
  key: keyof Summary['kpis'];
  label: string;
  format: (n: number) => string;
  change: 'relative' | 'points';
  /** For time to healthy, less is better. */
  lowerIsBetter?: boolean;
};

const specs: KpiSpec[] = [
  { key: 'runsStarted', label: 'Template runs', format: formatCount, change: 'relative' },
  { key: 'successRate', label: 'Success rate', format: formatRatio, change: 'points' },
  { key: 'activeUsers', label: 'Active users', format: formatCount, change: 'relative' },
  { key: 'timeSavedSeconds', label: 'Time saved', format: formatDuration, change: 'relative' },
  { key: 'coverage', label: 'Golden-path coverage', format: formatRatio, change: 'points' },
  {
    key: 'medianTimeToHealthySeconds',
    label: 'Median time to healthy',
    format: formatDuration,
    change: 'relative',
    lowerIsBetter: true,
  },
];

/** Written in place of a figure until paved answers. */
export const kpiPending = '…';

function KpiChange({ spec, kpi }: { spec: KpiSpec; kpi: Kpi }) {
  const classes = useStyles();
  const delta = kpi.value - kpi.previous;
  const improved = spec.lowerIsBetter ? delta < 0 : delta > 0;
  let changeClass = classes.same;
  if (delta !== 0) changeClass = improved ? classes.better : classes.worse;
  return (
    <Box display="flex" gridGap={8}>
      <Typography variant="body2" className={changeClass}>
        {formatChange(kpi.value, kpi.previous, spec.change)}
      </Typography>
      <Typography variant="body2" color="textSecondary">
        vs {spec.format(kpi.previous)} before
      </Typography>
    </Box>
  );
}

function KpiCard({ spec, kpi }: { spec: KpiSpec; kpi?: Kpi }) {
  const classes = useStyles();
  return (
    <Card>
      <CardContent>
        <Typography variant="body2" color="textSecondary">
          {spec.label}
        </Typography>
        <Typography className={classes.value} data-testid={`kpi-${spec.key}`}>
          {kpi ? spec.format(kpi.value) : kpiPending}
        </Typography>
        {kpi ? (
          <KpiChange spec={spec} kpi={kpi} />
        ) : (
          <Typography variant="body2" color="textSecondary">
            &nbsp;
          </Typography>
        )}
      </CardContent>
    </Card>
  );
}

/**
 * The headline figures, each with its change against the previous period of
 * the same length. Without a summary (paved has not answered yet) the cards
 * are laid out with a placeholder for each figure: when the answer comes,
 * only the figures change, the least work between paved's answer and the
 * frame showing it.
 */
export function KpiCards({ summary }: { summary?: Summary }) {
  return (
    <Grid container spacing={2} aria-busy={!summary}>
      {specs.map(spec => (
        <Grid item xs={12} sm={6} md={4} lg={2} key={spec.key}>
          <KpiCard spec={spec} kpi={summary?.kpis[spec.key]} />
        </Grid>
      ))}
    </Grid>
  );
}
