import { Box, Grid, Table, TableBody, TableCell, TableHead, TableRow, Tooltip, Typography } from '@material-ui/core';
import { Freshness } from '../../api';
import { formatCount, formatDuration, formatRatio, refName } from '../format';
import { usePaged } from '../Paging';

/** A version as the page shows it: etags (40 hex digits) shortened like commits. */
export function shortVersion(v: string): string {
  return /^[0-9a-f]{20,}$/i.test(v) ? v.slice(0, 8) : v;
}

function behind(versions: number, days: number): string {
  const v = `${versions} version${versions === 1 ? '' : 's'}`;
  return days > 0 ? `${v} · ${formatDuration(days * 86400)}` : v;
}

/** The outdated and furthest-behind cells of a template's or team's row. */
function OutdatedCells({ row }: { row: { outdated: number; services: number; maxVersionsBehind: number; maxDaysBehind: number } }) {
  return (
    <>
      <TableCell align="right">
        {formatCount(row.outdated)} of {formatCount(row.services)}
        {row.services > 0 && (
          <Typography variant="caption" color="textSecondary">
            {' '}
            ({formatRatio(row.outdated / row.services)})
          </Typography>
        )}
      </TableCell>
      <TableCell align="right">{row.outdated > 0 ? behind(row.maxVersionsBehind, row.maxDaysBehind) : '—'}</TableCell>
    </>
  );
}

/**
 * Golden-path freshness: how many services run on an older version of their
 * template than its current one, per template and team, and the laggards,
 * furthest behind first.
 */
export function FreshnessPanel({ freshness }: { freshness: Freshness }) {
  const templates = usePaged(freshness.templates, 'freshness-templates', 10);
  const teams = usePaged(freshness.teams, 'freshness-teams', 10);
  const laggardsPage = usePaged(freshness.laggards, 'freshness-laggards');
  if (freshness.services === 0) {
    return (
      <Typography color="textSecondary">
        No service with a known template version yet: paved records it from runs that output an entityRef.
      </Typography>
    );
  }
  const laggards = freshness.laggards;
  return (
    <Box>
      <Typography variant="h6" data-testid="freshness-outdated">
        {formatCount(freshness.outdated)} of {formatCount(freshness.services)} services on an outdated template version
      </Typography>
      <Grid container spacing={2}>
        <Grid item xs={12} md={6}>
          <Table size="small" aria-label="Freshness per template">
            <TableHead>
              <TableRow>
                <TableCell>Template</TableCell>
                <TableCell>Current version</TableCell>
                <TableCell align="right">Outdated</TableCell>
                <TableCell align="right">Furthest behind</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {templates.rows.map(t => (
                <TableRow key={t.templateRef} data-testid={`freshness-template-${refName(t.templateRef)}`}>
                  <TableCell>{refName(t.templateRef)}</TableCell>
                  <TableCell>
                    <Tooltip title={t.currentVersion}>
                      <span>{shortVersion(t.currentVersion)}</span>
                    </Tooltip>
                  </TableCell>
                  <OutdatedCells row={t} />
                </TableRow>
              ))}
            </TableBody>
          </Table>
          {templates.pagination}
        </Grid>
        <Grid item xs={12} md={6}>
          <Table size="small" aria-label="Freshness per team">
            <TableHead>
              <TableRow>
                <TableCell>Team</TableCell>
                <TableCell align="right">Outdated</TableCell>
                <TableCell align="right">Furthest behind</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {teams.rows.map(t => (
                <TableRow key={t.owner} data-testid={`freshness-team-${refName(t.owner)}`}>
                  <TableCell>{t.owner ? refName(t.owner) : 'no owner'}</TableCell>
                  <OutdatedCells row={t} />
                </TableRow>
              ))}
            </TableBody>
          </Table>
          {teams.pagination}
        </Grid>
      </Grid>
      <Typography variant="subtitle2" style={{ marginTop: 16 }}>
        Laggards
      </Typography>
      {laggards.length === 0 ? (
        <Typography color="textSecondary">Every service runs on its template's current version.</Typography>
      ) : (
        <Table size="small" aria-label="Laggards">
          <TableHead>
            <TableRow>
              <TableCell>Service</TableCell>
              <TableCell>Template</TableCell>
              <TableCell>Team</TableCell>
              <TableCell>Version</TableCell>
              <TableCell align="right">Behind</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {laggardsPage.rows.map(l => (
              <TableRow key={l.service} data-testid={`freshness-laggard-${refName(l.service)}`}>
                <TableCell>{refName(l.service)}</TableCell>
                <TableCell>{refName(l.templateRef)}</TableCell>
                <TableCell>{l.owner ? refName(l.owner) : '—'}</TableCell>
                <TableCell>
                  <Tooltip title={`${l.version} → ${l.currentVersion}`}>
                    <span>
                      {shortVersion(l.version)} → {shortVersion(l.currentVersion)}
                    </span>
                  </Tooltip>
                </TableCell>
                <TableCell align="right">{behind(l.versionsBehind, l.daysBehind)}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      {laggardsPage.pagination}
      {freshness.laggardsTotal > laggards.length && (
        <Typography variant="caption" color="textSecondary">
          The {laggards.length} furthest behind of {formatCount(freshness.laggardsTotal)}; the CSV lists every service.
        </Typography>
      )}
    </Box>
  );
}
