import { Box, Card, CardContent, Grid, Typography, makeStyles } from '@material-ui/core';
import { useMemo } from 'react';
import { ServiceDeployments, Tier } from '../../api';
import { formatCount, formatCountOf } from '../format';
import { usePaged } from '../Paging';

/** Four Keys deployment-frequency bands, best first. */
export const tierBands: { tier: Tier; label: string; rule: string }[] = [
  { tier: 'daily', label: 'Elite', rule: 'deploys on 3+ days a week' },
  { tier: 'weekly', label: 'High', rule: 'deploys weekly' },
  { tier: 'monthly', label: 'Medium', rule: 'deploys monthly' },
  { tier: 'yearly', label: 'Low', rule: 'deploys less than monthly' },
  { tier: 'none', label: 'None', rule: 'no deployment in the period' },
];

const useStyles = makeStyles(theme => {
  const band: Record<Tier, string> = {
    daily: theme.palette.success.main,
    weekly: theme.palette.info.main,
    monthly: theme.palette.warning.main,
    yearly: theme.palette.error.main,
    none: theme.palette.grey[500],
  };
  return {
    ...Object.fromEntries(
      Object.entries(band).map(([tier, color]) => [tier, { borderLeft: `6px solid ${color}` }]),
    ),
    chip: { display: 'inline-block', width: 10, height: 10, borderRadius: 2, marginRight: 4 },
    ...Object.fromEntries(Object.entries(band).map(([tier, color]) => [`chip-${tier}`, { background: color }])),
  } as Record<string, any>;
});

function TierLegend() {
  const classes = useStyles();
  return (
    <Box display="flex" flexWrap="wrap" gridGap={16} mb={2}>
      {tierBands.map(b => (
        <Typography variant="caption" key={b.tier}>
          <span className={`${classes.chip} ${classes[`chip-${b.tier}`]}`} />
          {b.label}: {b.rule}
        </Typography>
      ))}
    </Box>
  );
}

/** One tile per service, banded by its Four Keys deployment-frequency tier, a page at a time. */
export function DeploymentTiles({ items }: { items: ServiceDeployments[] }) {
  const classes = useStyles();
  const tiles = useMemo(() => {
    const order = tierBands.map(b => b.tier);
    return [...items].sort((a, b) => order.indexOf(a.tier) - order.indexOf(b.tier) || b.deployments - a.deployments);
  }, [items]);
  const { rows, pagination } = usePaged(tiles, 'deployment-tiles', 24);
  return (
    <Box>
      <TierLegend />
      {tiles.length === 0 && (
        <Typography color="textSecondary">No deployments of services created from golden paths.</Typography>
      )}
      <Grid container spacing={2}>
        {rows.map(s => {
          const band = tierBands.find(b => b.tier === s.tier);
          return (
            <Grid item xs={12} sm={6} md={3} key={s.service}>
              <Card className={classes[s.tier]} data-testid={`deployments-${s.service}`}>
                <CardContent>
                  <Typography variant="subtitle2" noWrap title={s.service}>
                    {s.service}
                  </Typography>
                  <Typography variant="h6">{band?.label ?? s.tier}</Typography>
                  <Typography variant="body2" color="textSecondary">
                    {formatCountOf(s.deployments, 'deploy')} · {s.perWeek.toFixed(1)}/week ·{' '}
                    {formatCount(s.failed)} failed
                  </Typography>
                </CardContent>
              </Card>
            </Grid>
          );
        })}
      </Grid>
      {pagination}
    </Box>
  );
}
