import {
  CopyTextButton,
  EmptyState,
  InfoCard,
  Progress,
  ResponseErrorPanel,
  WarningPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  Box,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  MenuItem,
  Select,
  Table,
  TableBody,
  TableCell,
  TableRow,
  Typography,
} from '@material-ui/core';
import { useEffect, useRef, useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { ConnectionDetails, InfraResource, pavedApiRef } from '../../api';
import { accessRefusal } from '../AdoptionPage/AdoptionPage';
import { formatDuration } from '../format';

/** How long "Extend" adds, as paved's extend route reads it. */
const EXTENSIONS = [
  { by: '1d', label: '1 day' },
  { by: '7d', label: '7 days' },
  { by: '30d', label: '30 days' },
];

/** The HTTP status of a failed paved call, duck-typed like accessRefusal. */
function statusOf(error?: Error): number | undefined {
  return (error as (Error & { statusCode?: number }) | undefined)?.statusCode;
}

/** "expires in 3.5 d (2026-12-05 10:00 UTC)", "expired", or "kept until torn down". */
export function formatExpiry(expiresAt: string | undefined, now: Date): string {
  if (!expiresAt) return 'kept until torn down';
  const at = new Date(expiresAt);
  const when = `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const left = (at.getTime() - now.getTime()) / 1000;
  return left <= 0 ? `expired (${when})` : `expires in ${formatDuration(left)} (${when})`;
}

/** The connection details, fetched for the owner on click, kept only while shown. */
function Connection({ resource }: { resource: InfraResource }) {
  const api = useApi(pavedApiRef);
  const [details, setDetails] = useState<ConnectionDetails | undefined>();
  const [error, setError] = useState<Error | undefined>();
  const [loading, setLoading] = useState(false);
  const live = useRef(true);
  // The credentials go with the card: nothing keeps them once it is gone.
  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
      setDetails(undefined);
    };
  }, []);

  const notYours = (
    <Typography data-testid="paved-connection-not-yours" color="textSecondary">
      {`Not yours: the connection details of ${resource.name} are shown only to its owner, ${resource.owner}, and the owner group's members.`}
    </Typography>
  );
  if (!resource.hasConnection) return null;
  if (!resource.canReadConnection || statusOf(error) === 403) return notYours;

  const reveal = async () => {
    setLoading(true);
    setError(undefined);
    try {
      const d = await api.connection(resource.id);
      if (live.current) setDetails(d);
    } catch (e) {
      if (live.current) setError(e as Error);
    } finally {
      if (live.current) setLoading(false);
    }
  };

  if (!details) {
    return (
      <Box>
        <Button variant="outlined" color="primary" onClick={reveal} disabled={loading} data-testid="paved-connection-reveal">
          Show connection details
        </Button>
        {loading && <Progress />}
        {error && <ResponseErrorPanel error={error} title="paved did not give the connection details" />}
      </Box>
    );
  }
  return (
    <Box data-testid="paved-connection">
      <Table size="small">
        <TableBody>
          {Object.entries(details.connection).map(([key, value]) => (
            <TableRow key={key}>
              <TableCell component="th">{key}</TableCell>
              <TableCell>
                <code data-testid={`paved-connection-${key}`}>{value}</code>
              </TableCell>
              <TableCell padding="checkbox">
                <CopyTextButton text={value} tooltipText={`${key} copied`} aria-label={`Copy ${key}`} />
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <Button onClick={() => setDetails(undefined)} data-testid="paved-connection-hide">
        Hide connection details
      </Button>
    </Box>
  );
}

/** Extend and tear down, for who may (the owner, a member of the owner group, an operator). */
function Manage({
  resource,
  onChange,
  onGone,
}: {
  resource: InfraResource;
  onChange: (r: InfraResource) => void;
  onGone: () => void;
}) {
  const api = useApi(pavedApiRef);
  const [by, setBy] = useState(EXTENSIONS[1].by);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | undefined>();

  if (!resource.canManage) {
    return (
      <Typography color="textSecondary" data-testid="paved-manage-forbidden">
        {`Only its owner, ${resource.owner}, can extend or tear down ${resource.name}.`}
      </Typography>
    );
  }
  const run = async (op: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await op();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const extend = () => run(async () => onChange(await api.extendResource(resource.id, by)));
  const tearDown = () =>
    run(async () => {
      setConfirming(false);
      await api.deleteResource(resource.id);
      onGone();
    });
  return (
    <Box display="flex" alignItems="center" flexWrap="wrap" style={{ gap: 8 }}>
      {resource.expiresAt && (
        <>
          <Select value={by} onChange={e => setBy(e.target.value as string)} inputProps={{ 'aria-label': 'Extend by' }}>
            {EXTENSIONS.map(x => (
              <MenuItem key={x.by} value={x.by}>
                {x.label}
              </MenuItem>
            ))}
          </Select>
          <Button variant="outlined" onClick={extend} disabled={busy} data-testid="paved-extend">
            Extend
          </Button>
        </>
      )}
      <Button variant="outlined" color="secondary" onClick={() => setConfirming(true)} disabled={busy} data-testid="paved-teardown">
        Tear down
      </Button>
      {error && (
        <Box width="100%">
          {accessRefusal(error) ? (
            <WarningPanel severity="error" title="paved refused" message={accessRefusal(error)} />
          ) : (
            <ResponseErrorPanel error={error} />
          )}
        </Box>
      )}
      <Dialog open={confirming} onClose={() => setConfirming(false)} aria-labelledby="paved-teardown-title">
        <DialogTitle id="paved-teardown-title">{`Tear down ${resource.name}?`}</DialogTitle>
        <DialogContent>
          <DialogContentText>
            {`paved deletes the ${resource.title || resource.kind} ${resource.name} and everything in it. This cannot be undone.`}
          </DialogContentText>
        </DialogContent>
        <DialogActions>
          <Button onClick={() => setConfirming(false)}>Cancel</Button>
          <Button color="secondary" variant="contained" onClick={tearDown} data-testid="paved-teardown-confirm">
            Tear down
          </Button>
        </DialogActions>
      </Dialog>
    </Box>
  );
}

function Row({ label, children, testId }: { label: string; children: React.ReactNode; testId?: string }) {
  return (
    <TableRow>
      <TableCell component="th" style={{ width: '30%' }}>
        {label}
      </TableCell>
      <TableCell data-testid={testId}>{children}</TableCell>
    </TableRow>
  );
}

/**
 * One resource paved provisioned: what it is, its status, owner and
 * lifetime, what it costs, extend and tear down for who may, and its
 * connection details revealed on click for the owner.
 */
export function PavedResource({ id, cost, now }: { id: string; cost?: string; now?: Date }) {
  const api = useApi(pavedApiRef);
  const state = useAsyncRetry(() => api.resource(id), [api, id]);
  const [resource, setResource] = useState<InfraResource | undefined>();
  const [gone, setGone] = useState(false);
  useEffect(() => setResource(state.value), [state.value]);

  if (gone) {
    return (
      <Typography data-testid="paved-resource-gone">{`Torn down: paved deleted ${resource?.name ?? id}.`}</Typography>
    );
  }
  if (state.error) {
    const status = statusOf(state.error);
    if (status === 404) {
      return (
        <EmptyState
          missing="data"
          title="No such resource"
          description={`paved has no resource ${id}: it was torn down, expired, or never provisioned.`}
        />
      );
    }
    if (status === 401 || status === 403) {
      return <WarningPanel severity="error" title="paved refused" message={accessRefusal(state.error)} />;
    }
    return <ResponseErrorPanel error={state.error} />;
  }
  if (state.loading || !resource) return <Progress />;

  const r = resource;
  const params = r.parameters ?? {};
  const size = [params.size, params.region].filter(v => typeof v === 'string' && v).join(' · ');
  const monthly = r.costMonthly || cost;
  return (
    <Box data-testid="paved-resource">
      <Table size="small">
        <TableBody>
          <Row label="Kind" testId="paved-resource-kind">
            {r.title ? `${r.title} (${r.kind})` : r.kind}
          </Row>
          {size && (
            <Row label="Size / region" testId="paved-resource-size">
              {size}
            </Row>
          )}
          <Row label="Status" testId="paved-resource-status">
            {r.status}
          </Row>
          <Row label="Owner" testId="paved-resource-owner">
            {r.owner}
          </Row>
          <Row label="Lifetime" testId="paved-resource-expiry">
            {formatExpiry(r.expiresAt, now ?? new Date())}
          </Row>
          <Row label="Cost" testId="paved-resource-cost">
            {monthly ? `${monthly} / month` : 'not priced yet'}
          </Row>
        </TableBody>
      </Table>
      <Box mt={2}>
        <Manage resource={r} onChange={setResource} onGone={() => setGone(true)} />
      </Box>
      {r.hasConnection && (
        <Box mt={2}>
          <Typography variant="h6">Connection details</Typography>
          <Connection resource={r} />
        </Box>
      )}
    </Box>
  );
}

/** The card around PavedResource. */
export function ResourceCard({ id, cost, title }: { id: string; cost?: string; title?: string }) {
  return (
    <InfoCard title={title ?? 'Provisioned by paved'}>
      <PavedResource id={id} cost={cost} />
    </InfoCard>
  );
}
