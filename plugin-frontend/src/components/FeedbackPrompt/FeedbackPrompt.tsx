import { InfoCard } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  Box,
  Button,
  FormControlLabel,
  Radio,
  RadioGroup,
  TextField,
  Typography,
  makeStyles,
} from '@material-ui/core';
import { useState } from 'react';
import useAsync from 'react-use/esm/useAsync';
import { RunFeedback, pavedApiRef } from '../../api';
import { refName } from '../format';

const useStyles = makeStyles(theme => ({
  run: { borderTop: `1px solid ${theme.palette.divider}`, paddingTop: theme.spacing(1.5), marginTop: theme.spacing(1.5) },
  focused: { borderLeft: `4px solid ${theme.palette.primary.main}`, paddingLeft: theme.spacing(1.5) },
}));

const scoreLabels = ['1 · poor', '2', '3', '4', '5 · great'];

function errorText(error: unknown): string {
  const e = error as { body?: { error?: { message?: string } }; message?: string };
  return e?.body?.error?.message || e?.message || String(error);
}

function RunForm({ run, focused, onSaved }: { run: RunFeedback; focused: boolean; onSaved: (r: RunFeedback) => void }) {
  const classes = useStyles();
  const paved = useApi(pavedApiRef);
  const [score, setScore] = useState<number | undefined>(run.feedback?.score);
  const [comment, setComment] = useState(run.feedback?.comment ?? '');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const name = refName(run.templateRef);
  const when = new Date(run.createdAt).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

  const send = async () => {
    if (!score) return;
    setSaving(true);
    setError(undefined);
    try {
      onSaved(await paved.rateRun(run.taskId, { score, comment }));
      setSaved(true);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <div className={`${classes.run} ${focused ? classes.focused : ''}`} data-testid={`feedback-run-${run.taskId}`}>
      <Typography variant="subtitle2">
        {name} <Typography component="span" variant="body2" color="textSecondary">({run.status}, {when} UTC)</Typography>
      </Typography>
      {run.editable ? (
        <>
          <RadioGroup
            row
            aria-label={`How was ${name}?`}
            value={score ? String(score) : ''}
            onChange={e => setScore(Number(e.target.value))}
          >
            {scoreLabels.map((label, i) => (
              <FormControlLabel key={label} value={String(i + 1)} control={<Radio size="small" />} label={label} />
            ))}
          </RadioGroup>
          <TextField
            fullWidth
            multiline
            minRows={2}
            variant="outlined"
            size="small"
            label="Why? (optional, the platform team reads it)"
            value={comment}
            inputProps={{ maxLength: 2000, 'aria-label': `Why, for ${name}` }}
            onChange={e => setComment(e.target.value)}
          />
          <Box mt={1} display="flex" alignItems="center" style={{ gap: 8 }}>
            <Button variant="contained" color="primary" size="small" disabled={!score || saving} onClick={send}>
              {run.feedback ? 'Update' : 'Send'}
            </Button>
            {saved && run.editableUntil && (
              <Typography variant="body2" data-testid="feedback-saved">
                Thanks! You can change your answer until {new Date(run.editableUntil).toISOString().slice(0, 10)}.
              </Typography>
            )}
            {error && (
              <Typography variant="body2" color="error" role="alert">
                {error}
              </Typography>
            )}
          </Box>
        </>
      ) : (
        <Typography variant="body2" color="textSecondary">
          {run.feedback ? `You rated it ${run.feedback.score}/5.` : 'This run can no longer be rated.'}
        </Typography>
      )}
    </div>
  );
}

/**
 * Asks the signed-in developer how their recent golden-path runs went. A
 * template's output links to the page with `?feedback=<task id>`: that run
 * comes first. Shown to everyone: rating needs no reader rights.
 */
export function FeedbackPrompt({ focusTaskId }: { focusTaskId?: string }) {
  const paved = useApi(pavedApiRef);
  const [updated, setUpdated] = useState<Record<string, RunFeedback>>({});
  const state = useAsync(async () => {
    const [mine, focus] = await Promise.all([
      paved.myRuns().catch(() => ({ items: [] as RunFeedback[] })),
      focusTaskId ? paved.myRun(focusTaskId).then(
        r => ({ run: r, error: undefined }),
        e => ({ run: undefined, error: errorText(e) }),
      ) : Promise.resolve(undefined),
    ]);
    const runs = mine.items.filter(r => r.editable && r.taskId !== focusTaskId);
    // Unanswered runs first, then the newest.
    runs.sort((a, b) => Number(!!a.feedback) - Number(!!b.feedback));
    return { runs: focus?.run ? [focus.run, ...runs] : runs, focusError: focus?.error };
  }, [paved, focusTaskId]);

  if (state.loading || !state.value) return null;
  const { runs, focusError } = state.value;
  if (runs.length === 0 && !focusError) return null;
  const shown = runs.slice(0, 5).map(r => updated[r.taskId] ?? r);
  return (
    <InfoCard title="How did your golden path go?" subheader="Rate your recent template runs: the platform team reads every answer.">
      {focusError && (
        <Typography color="error" role="alert" data-testid="feedback-focus-error">
          {focusError}
        </Typography>
      )}
      {shown.map(run => (
        <RunForm
          key={run.taskId}
          run={run}
          focused={run.taskId === focusTaskId}
          onSaved={r => setUpdated(u => ({ ...u, [r.taskId]: r }))}
        />
      ))}
    </InfoCard>
  );
}
