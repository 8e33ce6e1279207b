import { Box, Typography, makeStyles, useTheme } from '@material-ui/core';
import { Period, Timeseries } from '../../api';
import { formatCount } from '../format';

const useStyles = makeStyles(theme => ({
  labels: { position: 'relative', height: 16, marginTop: 2 },
  label: {
    position: 'absolute',
    whiteSpace: 'nowrap',
    fontSize: 10,
    color: theme.palette.text.secondary,
  },
  legend: { display: 'flex', gap: theme.spacing(2), marginTop: theme.spacing(1) },
  swatch: {
    display: 'inline-block',
    width: 10,
    height: 10,
    marginRight: theme.spacing(0.5),
    borderRadius: 2,
  },
}));

// Bars are drawn in a fixed 1000×160 box stretched to the card's width;
// the period labels are HTML below it so they are not stretched with the bars.
const width = 1000;
const height = 160;
const barGap = 2;

/**
 * Template runs per period as stacked SVG bars (succeeded, failed, still
 * running or cancelled), with active users in each bar's tooltip. Plain SVG
 * keeps a chart library out of the bundle.
 */
export function AdoptionChart({ timeseries }: { timeseries: Timeseries }) {
  const classes = useStyles();
  const theme = useTheme();
  const { items } = timeseries;
  if (items.length === 0) {
    return <Typography color="textSecondary">No template runs in this period.</Typography>;
  }
  const max = Math.max(1, ...items.map(p => p.runsStarted));
  const barWidth = width / items.length - barGap;
  const labelEvery = Math.ceil(items.length / 8);
  const colors = {
    succeeded: theme.palette.success.main,
    failed: theme.palette.error.main,
    other: theme.palette.grey[400],
  };
  const segments = (p: Period) => {
    const other = Math.max(0, p.runsStarted - p.runsSucceeded - p.runsFailed);
    return [
      { key: 'succeeded', n: p.runsSucceeded, color: colors.succeeded },
      { key: 'failed', n: p.runsFailed, color: colors.failed },
      { key: 'other', n: other, color: colors.other },
    ];
  };

  return (
    <Box>
      <svg
        role="img"
        aria-label={`Template runs per ${timeseries.grouping}`}
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        height={height}
        preserveAspectRatio="none"
      >
        {items.map((p, i) => {
          const x = i * (barWidth + barGap);
          let y = height;
          return (
            <g key={p.period} data-testid="adoption-bar">
              <title>
                {`${p.period}: ${formatCount(p.runsStarted)} started, ${formatCount(p.runsSucceeded)} succeeded, ${formatCount(p.runsFailed)} failed, ${formatCount(p.activeUsers)} active users`}
              </title>
              {segments(p).map(s => {
                const h = (s.n / max) * height;
                y -= h;
                return <rect key={s.key} x={x} y={y} width={barWidth} height={h} fill={s.color} />;
              })}
            </g>
          );
        })}
      </svg>
      <div className={classes.labels}>
        {items.map((p, i) =>
          i % labelEvery === 0 ? (
            <span
              key={p.period}
              className={classes.label}
              style={{ left: `${(i / items.length) * 100}%` }}
            >
              {p.period}
            </span>
          ) : null,
        )}
      </div>
      <div className={classes.legend}>
        {(['succeeded', 'failed', 'other'] as const).map(k => (
          <Typography variant="caption" key={k}>
            <span className={classes.swatch} style={{ background: colors[k] }} />
            {k === 'other' ? 'running or cancelled' : k}
          </Typography>
        ))}
      </div>
    </Box>
  );
}
