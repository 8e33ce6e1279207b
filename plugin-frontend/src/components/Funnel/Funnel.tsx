import { Box, Typography, makeStyles } from '@material-ui/core';
import { Funnel as FunnelData, FunnelStageName } from '../../api';
import { formatCount, formatRatio } from '../format';

const useStyles = makeStyles(theme => ({
  row: { display: 'grid', gridTemplateColumns: '9rem 1fr 7rem', alignItems: 'center', gap: theme.spacing(1), marginBottom: theme.spacing(1) },
  track: { background: theme.palette.action.hover, borderRadius: 4, height: 20 },
  bar: { background: theme.palette.primary.main, borderRadius: 4, height: 20 },
}));

const labels: Record<FunnelStageName, string> = {
  started: 'Run started',
  succeeded: 'Run succeeded',
  registered: 'In the catalog',
  healthy: 'First healthy deploy',
};

/** Started → succeeded → registered → healthy, each with its conversion from the stage before. */
export function Funnel({ funnel }: { funnel: FunnelData }) {
  const classes = useStyles();
  const first = funnel.stages[0]?.count ?? 0;
  if (first === 0) {
    return <Typography color="textSecondary">No template runs in this period.</Typography>;
  }
  return (
    <Box>
      {funnel.stages.map((stage, i) => {
        const before = i === 0 ? undefined : funnel.stages[i - 1].count;
        return (
          <div className={classes.row} key={stage.name} data-testid={`funnel-${stage.name}`}>
            <Typography variant="body2">{labels[stage.name] ?? stage.name}</Typography>
            <div className={classes.track}>
              <div className={classes.bar} style={{ width: `${(stage.count / first) * 100}%` }} />
            </div>
            <Typography variant="body2" align="right">
              {formatCount(stage.count)}
              {before !== undefined && before > 0 && ` (${formatRatio(stage.count / before)})`}
            </Typography>
          </div>
        );
      })}
    </Box>
  );
}
