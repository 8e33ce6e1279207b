import {
  Content,
  EmptyState,
  Header,
  InfoCard,
  Link,
  Page,
  Progress,
  ResponseErrorPanel,
  Table,
  TableColumn,
  WarningPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  Box,
  Button,
  Grid,
  Table as MuiTable,
  TableBody,
  TableCell,
  TableRow,
  TextField,
  Typography,
} from '@material-ui/core';
import { useState } from 'react';
import { useParams } from 'react-router-dom';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { ApprovalRequest, pavedApiRef } from '../../api';
import { accessRefusal } from '../AdoptionPage/AdoptionPage';

/** The message of a failed paved call: Backstage's error body, else the error's own. */
function messageOf(error: Error): string {
  const e = error as Error & { body?: { error?: { message?: string } } };
  return e.body?.error?.message || e.message;
}

function params(p: Record<string, unknown>): string {
  return Object.keys(p)
    .sort()
    .map(k => `${k}=${String(p[k])}`)
    .join(', ');
}

function utc(at: string): string {
  return at ? `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
}

/** The approver's form: a comment, approve or reject. */
function Decision({ request, onDecided }: { request: ApprovalRequest; onDecided: (r: ApprovalRequest) => void }) {
  const api = useApi(pavedApiRef);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const decide = async (approve: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      onDecided(await api.decideApproval(request.id, { approve, comment }));
    } catch (e) {
      setError(messageOf(e as Error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Box mt={2}>
      <TextField
        label="Comment"
        helperText="Required to reject: the requester reads it."
        multiline
        minRows={2}
        fullWidth
        variant="outlined"
        value={comment}
        onChange={e => setComment(e.target.value)}
        inputProps={{ 'data-testid': 'paved-approval-comment', maxLength: 2000 }}
      />
      <Box mt={1} display="flex" style={{ gap: 8 }}>
        <Button
          variant="contained"
          color="primary"
          disabled={busy}
          onClick={() => decide(true)}
          data-testid="paved-approval-approve"
        >
          Approve and provision
        </Button>
        <Button
          variant="outlined"
          disabled={busy || comment.trim() === ''}
          onClick={() => decide(false)}
          data-testid="paved-approval-reject"
        >
          Reject
        </Button>
      </Box>
      {error && (
        <Box mt={1}>
          <WarningPanel severity="error" title="The decision was not recorded" message={error} />
        </Box>
      )}
    </Box>
  );
}

/** One request: what is asked, why it needs approval, its trail, and the decision for an approver. */
export function ApprovalRequestCard({ id }: { id: string }) {
  const api = useApi(pavedApiRef);
  const [decided, setDecided] = useState<ApprovalRequest | undefined>();
  const state = useAsyncRetry(() => api.approval(id), [api, id]);
  const refusal = accessRefusal(state.error);
  if (refusal) return <WarningPanel severity="warning" title="Not allowed" message={refusal} />;
  if (state.error) return <ResponseErrorPanel error={state.error} />;
  if (!state.value) return <Progress />;
  // The decision's answer until the reload (with the history) is in.
  const r = decided && state.value.state === 'pending' ? { ...decided, canDecide: false, events: state.value.events } : state.value;
  const rows: [string, React.ReactNode][] = [
    ['What', `${r.kind} ${r.name} (${params(r.parameters)})`],
    ['Owner', r.owner],
    ['Requested by', r.requester],
    ['Why approval', r.reason],
    ['Approvers', r.approvers],
    ['Expires', utc(r.expiresAt)],
  ];
  if (r.decidedBy) rows.push(['Decided by', `${r.decidedBy}${r.comment ? ` — ${r.comment}` : ''}`]);
  if (r.resourceId) rows.push(['Resource', <Link to={`../resources/${r.resourceId}`}>{r.name}</Link>]);
  if (r.error) rows.push(['Error', r.error]);
  return (
    <InfoCard title={`Request for ${r.kind} ${r.name}`} subheader={`paved approval request ${r.id}`}>
      <Typography variant="h6" data-testid="paved-approval-state">
        {r.state}
      </Typography>
      <MuiTable size="small">
        <TableBody>
          {rows.map(([k, v]) => (
            <TableRow key={k}>
              <TableCell component="th">{k}</TableCell>
              <TableCell>{v}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </MuiTable>
      {r.canDecide && (
        <Decision
          request={r}
          onDecided={d => {
            setDecided(d);
            state.retry();
          }}
        />
      )}
      {r.state === 'pending' && !r.canDecide && (
        <Box mt={2}>
          <Typography color="textSecondary" data-testid="paved-approval-not-yours">
            {`Waiting for a member of ${r.approvers} other than ${r.requester}.`}
          </Typography>
        </Box>
      )}
      {r.events && r.events.length > 0 && (
        <Box mt={2}>
          <Typography variant="subtitle2">History</Typography>
          <MuiTable size="small" data-testid="paved-approval-events">
            <TableBody>
              {r.events.map((e, i) => (
                <TableRow key={i}>
                  <TableCell>{utc(e.at)}</TableCell>
                  <TableCell>{e.state}</TableCell>
                  <TableCell>{e.actor}</TableCell>
                  <TableCell>{e.comment}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </MuiTable>
        </Box>
      )}
    </InfoCard>
  );
}

/** The pending requests, newest first, each linking to its page. */
export function PendingApprovals() {
  const api = useApi(pavedApiRef);
  const state = useAsyncRetry(() => api.approvals('pending'), [api]);
  const refusal = accessRefusal(state.error);
  if (refusal) return <WarningPanel severity="warning" title="Not allowed" message={refusal} />;
  if (state.error) return <ResponseErrorPanel error={state.error} />;
  if (state.loading || !state.value) return <Progress />;
  if (state.value.items.length === 0) {
    return <EmptyState missing="data" title="No pending requests" description="Nothing waits for an approver." />;
  }
  const columns: TableColumn<ApprovalRequest>[] = [
    { title: 'Request', render: r => <Link to={r.id}>{`${r.kind} ${r.name}`}</Link> },
    { title: 'Parameters', render: r => params(r.parameters) },
    { title: 'Owner', field: 'owner' },
    { title: 'Requested by', field: 'requester' },
    { title: 'Approvers', field: 'approvers' },
    { title: 'Why', field: 'reason' },
    { title: 'Expires', render: r => utc(r.expiresAt) },
    { title: 'You may decide', render: r => (r.canDecide ? 'yes' : 'no') },
  ];
  return (
    <Table<ApprovalRequest>
      title="Pending requests"
      options={{ paging: false, search: false }}
      columns={columns}
      data={state.value.items}
    />
  );
}

/** `/paved/approvals/:id`: one request; `/paved/approvals`: the pending ones. */
export function ApprovalContent() {
  const { id } = useParams();
  return (
    <Grid container>
      <Grid item xs={12} md={id ? 8 : 12}>
        {id ? <ApprovalRequestCard id={id} /> : <PendingApprovals />}
      </Grid>
    </Grid>
  );
}

/** ApprovalContent with the page around it (legacy frontend system). */
export function ApprovalPage() {
  return (
    <Page themeId="tool">
      <Header title="Approval requests" subtitle="Golden path requests held for an approver's decision" />
      <Content>
        <ApprovalContent />
      </Content>
    </Page>
  );
}
