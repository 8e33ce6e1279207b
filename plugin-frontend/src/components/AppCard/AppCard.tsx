import {
  EmptyState,
  InfoCard,
  Link,
  Progress,
  ResponseErrorPanel,
  StatusError,
  StatusOK,
  StatusPending,
  StatusWarning,
  WarningPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import { useEntity } from '@backstage/plugin-catalog-react';
import { Box, Button, Table, TableBody, TableCell, TableHead, TableRow, Tooltip, Typography } from '@material-ui/core';
import { ReactNode, useEffect, useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { EntityApp, pavedApiRef } from '../../api';
import { accessRefusal } from '../AdoptionPage/AdoptionPage';
import { FourKeysTiles } from '../FourKeysPanel';

/** Argo CD's health as Backstage's status icons show it. */
function Health({ status }: { status: string }) {
  const text = status || 'Unknown';
  switch (status) {
    case 'Healthy':
      return <StatusOK>{text}</StatusOK>;
    case 'Degraded':
    case 'Missing':
      return <StatusError>{text}</StatusError>;
    case 'Progressing':
      return <StatusPending>{text}</StatusPending>;
    default:
      return <StatusWarning>{text}</StatusWarning>;
  }
}

function Sync({ status }: { status: string }) {
  const text = status || 'Unknown';
  return status === 'Synced' ? <StatusOK>{text}</StatusOK> : <StatusWarning>{text}</StatusWarning>;
}

const nowrap = { whiteSpace: 'nowrap' } as const;

const key = (a: EntityApp) => `${a.instance}/${a.namespace ?? ''}/${a.name}`;

/** One application's row with its Sync button. */
function AppRow({ app, onSynced }: { app: EntityApp; onSynced: (a: EntityApp) => void }) {
  const api = useApi(pavedApiRef);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | undefined>();
  const sync = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onSynced(await api.syncApp({ instance: app.instance, name: app.name, namespace: app.namespace }));
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const operation = [app.operationPhase, app.operationMessage].filter(Boolean).join(': ');
  let button: ReactNode = (
    <Button size="small" variant="outlined" onClick={sync} disabled={busy} data-testid={`paved-sync-${app.instance}-${app.name}`}>
      {busy ? 'Syncing…' : 'Sync'}
    </Button>
  );
  if (!app.canSync) {
    button = (
      <Tooltip title="Only the component's owner can sync it">
        <span>
          <Button size="small" variant="outlined" disabled data-testid={`paved-sync-${app.instance}-${app.name}`}>
            Sync
          </Button>
        </span>
      </Tooltip>
    );
  }
  const refusal = accessRefusal(error);
  // What keeps it from Synced and Healthy, in Argo CD's words (a source
  // path that does not exist shows only here when paved committed the app).
  const problems = app.problems ?? [];
  return (
    <>
      <TableRow data-testid={`paved-app-${app.instance}-${app.name}`}>
        <TableCell style={nowrap}>{app.instance}</TableCell>
        <TableCell>
          {app.url ? <Link to={app.url}>{app.name}</Link> : app.name}
          <Typography variant="caption" display="block" color="textSecondary">
            {app.destination}
          </Typography>
        </TableCell>
        <TableCell style={nowrap}>
          <Sync status={app.syncStatus} />
        </TableCell>
        <TableCell style={nowrap}>
          <Health status={app.healthStatus} />
        </TableCell>
        <TableCell style={nowrap}>
          <code title={app.revision}>{app.revision ? app.revision.slice(0, 7) : '—'}</code>
        </TableCell>
        <TableCell data-testid={`paved-app-operation-${app.instance}-${app.name}`}>{operation || '—'}</TableCell>
        <TableCell>{button}</TableCell>
      </TableRow>
      {problems.length > 0 && (
        <TableRow>
          <TableCell colSpan={7} data-testid={`paved-app-problems-${app.instance}-${app.name}`}>
            <WarningPanel
              severity="error"
              title={`Argo CD reports ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}`}
              message={
                <>
                  {/* WarningPanel sets its message in a paragraph: no list inside */}
                  {problems.map((p, i) => (
                    <span key={i} style={{ display: 'block' }}>
                      {p.resource ? `${p.resource}: ` : ''}
                      <strong>{p.status}</strong>
                      {p.message ? ` — ${p.message}` : ''}
                    </span>
                  ))}
                </>
              }
            />
          </TableCell>
        </TableRow>
      )}
      {error && (
        <TableRow>
          <TableCell colSpan={7} data-testid={`paved-sync-error-${app.instance}-${app.name}`}>
            {refusal ? (
              <WarningPanel severity="error" title="Sync refused" message={refusal} />
            ) : (
              <ResponseErrorPanel error={error} title="Sync failed" />
            )}
          </TableCell>
        </TableRow>
      )}
    </>
  );
}

/** The Argo CD applications paved created for an entity, on every instance. */
export function AppList({ entityRef }: { entityRef: string }) {
  const api = useApi(pavedApiRef);
  const state = useAsyncRetry(() => api.entityApps(entityRef), [api, entityRef]);
  const [items, setItems] = useState<EntityApp[] | undefined>();
  useEffect(() => setItems(state.value?.items), [state.value]);

  if (state.error) {
    const refusal = accessRefusal(state.error);
    if (refusal) return <WarningPanel severity="error" title="paved refused" message={refusal} />;
    return <ResponseErrorPanel error={state.error} />;
  }
  if (state.loading || !state.value || !items) return <Progress />;
  const down = state.value.unavailable.map(u => (
    <WarningPanel key={u.instance} title={`Argo CD instance ${u.instance} did not answer`} message={u.message} />
  ));
  if (items.length === 0) {
    return (
      <>
        {down}
        <EmptyState
          missing="info"
          title="No Argo CD application"
          description={`paved created no Argo CD application for ${entityRef} on its instances.`}
        />
      </>
    );
  }
  return (
    <Box>
      {down}
      <Table size="small">
        <TableHead>
          <TableRow>
            <TableCell>Instance</TableCell>
            <TableCell>Application</TableCell>
            <TableCell>Sync</TableCell>
            <TableCell>Health</TableCell>
            <TableCell>Revision</TableCell>
            <TableCell>Last operation</TableCell>
            <TableCell />
          </TableRow>
        </TableHead>
        <TableBody>
          {items.map(app => (
            <AppRow
              key={key(app)}
              app={app}
              onSynced={synced => setItems(list => list?.map(a => (key(a) === key(synced) ? { ...synced, canSync: a.canSync } : a)))}
            />
          ))}
        </TableBody>
      </Table>
      <Button size="small" onClick={state.retry}>
        Refresh
      </Button>
    </Box>
  );
}

/**
 * ref in its full, lowercase form, as Backstage compares refs: the service of
 * the four keys is the paved.dev/entity-ref its template wrote, verbatim
 * ("component:shop", "Component:default/Shop"). paved answers `service` with
 * that service's rows alone; the card still checks the row it shows, as a
 * paved older than `service` answers every service's.
 */
function sameEntity(ref: string, entityRef: string): boolean {
  try {
    const full = (r: string) =>
      stringifyEntityRef(parseEntityRef(r, { defaultKind: 'component', defaultNamespace: 'default' })).toLocaleLowerCase('en-US');
    return full(ref) === full(entityRef);
  } catch {
    return false; // not an entity ref: no service's
  }
}

/**
 * The service's four keys (DORA) over the last 28 days, from its syncs in
 * Argo CD; for readers of paved's adoption metrics (others see a note).
 */
export function EntityFourKeys({ entityRef }: { entityRef: string }) {
  const api = useApi(pavedApiRef);
  const state = useAsyncRetry(() => api.dora({ groupBy: 'service', service: entityRef }), [api, entityRef]);
  if (state.loading) return <Progress />;
  if (state.error) {
    const refusal = accessRefusal(state.error);
    return (
      <Typography variant="body2" color="textSecondary" data-testid="entity-dora-unavailable">
        {refusal ? 'The four keys are shown to readers of the adoption metrics.' : `The four keys are unavailable: ${state.error.message}`}
      </Typography>
    );
  }
  const row = state.value?.items.find(i => sameEntity(i.group ?? '', entityRef));
  if (!row) {
    return (
      <Typography variant="body2" color="textSecondary" data-testid="entity-dora-none">
        No sync of this service's applications in the last 28 days.
      </Typography>
    );
  }
  return <FourKeysTiles keys={row} testId="entity-dora" />;
}

/** The Component entity page's card of its Argo CD applications and their four keys. */
export function EntityPavedAppCard() {
  const { entity } = useEntity();
  const entityRef = stringifyEntityRef(entity);
  return (
    <InfoCard title="Argo CD (paved)">
      <AppList entityRef={entityRef} />
      <Box mt={2}>
        <Typography variant="subtitle1">Four keys (DORA), last 28 days</Typography>
        <EntityFourKeys entityRef={entityRef} />
      </Box>
    </InfoCard>
  );
}
