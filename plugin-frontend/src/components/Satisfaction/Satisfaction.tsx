import { Box, Table, TableBody, TableCell, TableHead, TableRow, Typography, makeStyles } from '@material-ui/core';
import { useMemo } from 'react';
import { FeedbackComment, FunnelStageName, Satisfaction as SatisfactionData, Scores } from '../../api';
import { formatCount, refName } from '../format';
import { usePaged } from '../Paging';

const useStyles = makeStyles(theme => ({
  dist: { display: 'flex', height: 14, width: 160, borderRadius: 3, overflow: 'hidden', background: theme.palette.action.hover },
  trend: { display: 'flex', alignItems: 'flex-end', gap: 2, height: 48 },
  tick: { width: 8, background: theme.palette.primary.main, borderRadius: 2 },
}));

// From poor (red) to great (green).
const scoreColors = ['#d32f2f', '#f57c00', '#fbc02d', '#7cb342', '#388e3c'];

const stageLabels: Record<FunnelStageName, string> = {
  started: 'runs that failed',
  succeeded: 'runs that succeeded but were not registered',
  registered: 'services registered, not yet healthy',
  healthy: 'services that reached a healthy deploy',
};

export function formatScore(s: number, responses: number): string {
  return responses > 0 ? `${s.toFixed(1)} / 5` : '–';
}

function change(s: Scores): string {
  if (s.responses === 0 || s.previousResponses === 0) return '';
  const d = s.score - s.previousScore;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)} vs previous period`;
}

/** Five bars, one per score, sized by how many answers gave it. */
export function Distribution({ counts }: { counts: number[] }) {
  const classes = useStyles();
  const total = counts.reduce((a, b) => a + b, 0);
  return (
    <div className={classes.dist} role="img" aria-label={`Scores 1 to 5: ${counts.join(', ')}`}>
      {counts.map((n, i) =>
        n > 0 ? <div key={i} style={{ width: `${(n / total) * 100}%`, background: scoreColors[i] }} title={`${i + 1}: ${n}`} /> : null,
      )}
    </div>
  );
}

/** Developers' ratings: overall, per template, over time, and where the path hurts most. */
export function Satisfaction({ satisfaction }: { satisfaction: SatisfactionData }) {
  const classes = useStyles();
  const { overall } = satisfaction;
  const worstFirst = useMemo(() => [...satisfaction.items].sort((a, b) => a.score - b.score), [satisfaction.items]);
  const { rows, pagination } = usePaged(worstFirst, 'satisfaction', 10);
  if (overall.responses === 0) {
    return <Typography color="textSecondary">No developer has rated a run in this period.</Typography>;
  }
  const maxTrend = 5;
  return (
    <Box>
      <Box display="flex" alignItems="center" style={{ gap: 24 }} mb={2}>
        <div>
          <Typography variant="h4" data-testid="satisfaction-overall">
            {formatScore(overall.score, overall.responses)}
          </Typography>
          <Typography variant="body2" color="textSecondary">
            {formatCount(overall.responses)} answers {change(overall) && `· ${change(overall)}`}
          </Typography>
        </div>
        <Distribution counts={overall.distribution} />
        <div className={classes.trend} role="img" aria-label="Mean score per period">
          {satisfaction.trend.map(p => (
            <div
              key={p.period}
              className={classes.tick}
              title={`${p.period}: ${formatScore(p.score, p.responses)} (${p.responses})`}
              style={{ height: `${(p.score / maxTrend) * 100}%`, opacity: p.responses ? 1 : 0.15 }}
            />
          ))}
        </div>
      </Box>
      {satisfaction.worstStage && (
        <Typography variant="body2" data-testid="satisfaction-worst-stage" gutterBottom>
          Lowest rated: {stageLabels[satisfaction.worstStage] ?? satisfaction.worstStage} (
          {satisfaction.stages
            .map(s => `${s.stage} ${formatScore(s.score, s.responses)}`)
            .join(', ')}
          )
        </Typography>
      )}
      <Table size="small" aria-label="Satisfaction per template">
        <TableHead>
          <TableRow>
            <TableCell>Template</TableCell>
            <TableCell align="right">Score</TableCell>
            <TableCell align="right">Answers</TableCell>
            <TableCell>Distribution</TableCell>
            <TableCell align="right">Previous period</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {rows.map(r => (
              <TableRow key={r.templateRef} data-testid={`satisfaction-${refName(r.templateRef)}`}>
                <TableCell>{refName(r.templateRef)}</TableCell>
                <TableCell align="right">{formatScore(r.score, r.responses)}</TableCell>
                <TableCell align="right">{formatCount(r.responses)}</TableCell>
                <TableCell>
                  <Distribution counts={r.distribution} />
                </TableCell>
                <TableCell align="right">{formatScore(r.previousScore, r.previousResponses)}</TableCell>
              </TableRow>
          ))}
        </TableBody>
      </Table>
      {pagination}
    </Box>
  );
}

/** The latest comments, for the platform team; they never name the developer. */
export function FeedbackComments({ items }: { items: FeedbackComment[] }) {
  if (items.length === 0) {
    return <Typography color="textSecondary">No comments in this period.</Typography>;
  }
  return (
    <Box>
      {items.map(c => (
        <Box key={c.taskId + c.updatedAt} mb={1.5} data-testid="feedback-comment">
          <Typography variant="body2">
            <strong>{c.score}/5</strong> · {refName(c.templateRef)}
            {c.owner ? ` · ${refName(c.owner)}` : ''} · {c.updatedAt.slice(0, 10)}
          </Typography>
          <Typography variant="body2" style={{ whiteSpace: 'pre-wrap' }}>
            {c.comment}
          </Typography>
        </Box>
      ))}
    </Box>
  );
}
