import { Box, Typography, makeStyles } from '@material-ui/core';
import { useMemo } from 'react';
import { Coverage } from '../../api';
import { formatRatio, refName } from '../format';
import { usePaged } from '../Paging';

const useStyles = makeStyles(theme => ({
  row: { display: 'grid', gridTemplateColumns: '10rem 1fr 9rem', alignItems: 'center', gap: theme.spacing(1), marginBottom: theme.spacing(0.5) },
  selected: { fontWeight: 700 },
  track: { background: theme.palette.action.hover, borderRadius: 4, height: 14 },
  bar: { background: theme.palette.success.main, borderRadius: 4, height: 14 },
}));

/**
 * Share of each owner's components that came from a golden path, lowest
 * first: the teams the platform team should talk to are on top.
 */
export function CoverageByOwner({ coverage, selectedOwner }: { coverage: Coverage; selectedOwner?: string }) {
  const classes = useStyles();
  const sorted = useMemo(
    () => [...coverage.items].sort((a, b) => a.ratio - b.ratio || a.owner.localeCompare(b.owner)),
    [coverage.items],
  );
  const { rows: items, pagination } = usePaged(sorted, 'coverage', 20);
  return (
    <Box>
      <Typography variant="body2" gutterBottom data-testid="coverage-overall">
        Overall: {formatRatio(coverage.overall.ratio)} ({coverage.overall.fromTemplate} of{' '}
        {coverage.overall.components} components from a template)
      </Typography>
      {items.map(item => (
        <div className={classes.row} key={item.owner} data-testid="coverage-row">
          <Typography
            variant="body2"
            noWrap
            title={item.owner}
            className={item.owner === selectedOwner ? classes.selected : undefined}
          >
            {refName(item.owner)}
          </Typography>
          <div className={classes.track}>
            <div className={classes.bar} style={{ width: `${item.ratio * 100}%` }} />
          </div>
          <Typography variant="body2" align="right">
            {formatRatio(item.ratio)} · {item.fromTemplate}/{item.components}
          </Typography>
        </div>
      ))}
      {pagination}
    </Box>
  );
}
