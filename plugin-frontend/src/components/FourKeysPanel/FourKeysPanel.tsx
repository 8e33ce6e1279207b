import {
  Box,
  Card,
  CardContent,
  Grid,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TextField,
  MenuItem,
  Typography,
  makeStyles,
} from '@material-ui/core';
import { DoraGrouping, DoraReport, DoraTier, FourKeys } from '../../api';
import { formatCount, formatCountOf, formatDuration, formatPercent } from '../format';
import { usePaged } from '../Paging';

/** DORA's tiers as the page names them; the type makes it list every tier paved sends. */
export const doraTierLabels: Record<DoraTier, string> = {
  elite: 'Elite',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
  none: 'No data',
};

const groupings: Record<DoraGrouping, string> = { service: 'Service', team: 'Team', template: 'Template' };

const useStyles = makeStyles(theme => {
  const band: Record<DoraTier, string> = {
    elite: theme.palette.success.main,
    high: theme.palette.info.main,
    medium: theme.palette.warning.main,
    low: theme.palette.error.main,
    none: theme.palette.grey[500],
  };
  return Object.fromEntries(
    Object.entries(band).map(([tier, color]) => [tier, { borderLeft: `6px solid ${color}` }]),
  ) as Record<DoraTier, any>;
});

function restoreDetail(k: FourKeys): string {
  const open = k.openIncidents ? `${formatCount(k.openIncidents)} still Degraded` : '';
  if (k.restored) return `median of ${formatCount(k.restored)} restored${open && `, ${open}`}`;
  return k.openIncidents ? `${formatCount(k.openIncidents)} Degraded, none restored yet` : 'no incident';
}

/** The four keys of one group (or everyone), each with its tier. */
export function keyFigures(k: FourKeys): { key: string; value: string; tier: DoraTier; detail: string }[] {
  return [
    {
      key: 'Deployment frequency',
      value: `${k.deploymentsPerDay.toFixed(2)}/day`,
      tier: k.deploymentFrequencyTier,
      detail: `${formatCountOf(k.deployments, 'deploy')} on ${formatCountOf(k.deploymentDays, 'day')}`,
    },
    {
      key: 'Lead time for changes',
      value: k.leadTimeSamples ? formatDuration(k.leadTimeSeconds) : '–',
      tier: k.leadTimeTier,
      detail: k.leadTimeSamples ? `median of ${formatCount(k.leadTimeSamples)}, p90 ${formatDuration(k.leadTimeP90Seconds)}` : 'no change reached Healthy',
    },
    {
      key: 'Change failure rate',
      value: k.changes ? formatPercent(k.changeFailureRate) : '–',
      tier: k.changeFailureTier,
      detail: `${formatCount(k.failedChanges)} of ${formatCountOf(k.changes, 'change')} failed`,
    },
    {
      key: 'Time to restore',
      value: k.restored ? formatDuration(k.timeToRestoreSeconds) : '–',
      tier: k.timeToRestoreTier,
      detail: restoreDetail(k),
    },
  ];
}

/** Four tiles: the four keys of k, banded by tier. */
export function FourKeysTiles({ keys, testId }: { keys: FourKeys; testId: string }) {
  const classes = useStyles();
  return (
    <Grid container spacing={2}>
      {keyFigures(keys).map(f => (
        <Grid item xs={12} sm={6} md={3} key={f.key}>
          <Card className={classes[f.tier]} data-testid={`${testId}-${f.key}`}>
            <CardContent>
              <Typography variant="subtitle2">{f.key}</Typography>
              <Typography variant="h6">{f.value}</Typography>
              <Typography variant="body2">{doraTierLabels[f.tier]}</Typography>
              <Typography variant="caption" color="textSecondary">
                {f.detail}
              </Typography>
            </CardContent>
          </Card>
        </Grid>
      ))}
    </Grid>
  );
}

/** The adoption page's four keys: everyone's, then per service, team or template. */
export function FourKeysPanel({
  report,
  onGroupBy,
}: {
  report: DoraReport;
  onGroupBy: (g: DoraGrouping) => void;
}) {
  const { rows, pagination } = usePaged(report.items, 'dora');
  return (
    <Box>
      <FourKeysTiles keys={report.overall} testId="dora-overall" />
      <Box mt={2} mb={1}>
        <TextField
          select
          size="small"
          label="Per"
          value={report.groupBy}
          onChange={e => onGroupBy(e.target.value as DoraGrouping)}
          inputProps={{ 'data-testid': 'dora-group-by' }}
        >
          {(Object.keys(groupings) as DoraGrouping[]).map(g => (
            <MenuItem key={g} value={g}>
              {groupings[g]}
            </MenuItem>
          ))}
        </TextField>
      </Box>
      {report.items.length === 0 ? (
        <Typography color="textSecondary">No syncs of applications paved created in the period.</Typography>
      ) : (
        <>
          <Table size="small">
            <TableHead>
              <TableRow>
                <TableCell>{groupings[report.groupBy]}</TableCell>
                {keyFigures(report.overall).map(f => (
                  <TableCell key={f.key}>{f.key}</TableCell>
                ))}
              </TableRow>
            </TableHead>
            <TableBody>
              {rows.map(item => (
                <TableRow key={item.group ?? ''} data-testid={`dora-row-${item.group ?? ''}`}>
                  <TableCell>{item.group || '(unknown)'}</TableCell>
                  {keyFigures(item).map(f => (
                    <TableCell key={f.key} title={f.detail}>
                      {f.value} · {doraTierLabels[f.tier]}
                    </TableCell>
                  ))}
                </TableRow>
              ))}
            </TableBody>
          </Table>
          {pagination}
        </>
      )}
    </Box>
  );
}
