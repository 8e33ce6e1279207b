import { TestApiProvider, renderInTestApp } from '@backstage/test-utils';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { EntityApp, EntityApps, PavedApi, PavedClient, pavedApiRef } from '../../api';
import { pavedError } from '../../testUtils';
import { EntityPavedAppCard } from './AppCard';

const app = (over: Partial<EntityApp>): EntityApp => ({
  instance: 'prod',
  name: 'shop',
  project: 'shop',
  url: 'https://argocd.prod.example/applications/argocd/shop',
  syncStatus: 'Synced',
  healthStatus: 'Healthy',
  revision: '0123456789abcdef0123456789abcdef01234567',
  destination: 'in-cluster / shop',
  canSync: true,
  ...over,
});

// An ApplicationSet's environments: one Application per environment, same labels.
const apps: EntityApps = {
  entityRef: 'component:default/shop',
  items: [
    app({ instance: 'prod', name: 'shop-production' }),
    app({
      instance: 'staging',
      name: 'shop-staging',
      syncStatus: 'OutOfSync',
      healthStatus: 'Degraded',
      operationPhase: 'Failed',
      operationMessage: 'one or more objects failed to apply: Deployment.apps "shop" is invalid',
    }),
  ],
  unavailable: [],
};

type Fake = Pick<PavedApi, 'entityApps' | 'syncApp' | 'dora'>;

const fourKeys = (group: string) => ({
  group, deployments: 12, deploymentDays: 9, deploymentsPerDay: 0.4286, deploymentFrequencyTier: 'high' as const,
  leadTimeSeconds: 420, leadTimeP90Seconds: 900, leadTimeSamples: 11, leadTimeTier: 'elite' as const,
  changes: 13, failedChanges: 2, changeFailureRate: 0.1538, changeFailureTier: 'high' as const,
  timeToRestoreSeconds: 600, restored: 2, openIncidents: 0, timeToRestoreTier: 'elite' as const,
});

function fake(over: Partial<Fake> = {}): jest.Mocked<Fake> {
  return {
    entityApps: jest.fn(async () => apps),
    dora: jest.fn(async () => ({
      from: '', to: '', groupBy: 'service' as const, overall: fourKeys(''),
      items: [fourKeys('component:default/other'), fourKeys('component:default/shop')],
    })),
    syncApp: jest.fn(async a => app({ instance: a.instance, name: a.name, syncStatus: 'Synced', operationPhase: 'Running', operationMessage: 'syncing' })),
    ...over,
  } as jest.Mocked<Fake>;
}

function render(api: Fake) {
  return renderInTestApp(
    <TestApiProvider apis={[[pavedApiRef, api]]}>
      <EntityProvider
        entity={{
          apiVersion: 'backstage.io/v1alpha1',
          kind: 'Component',
          metadata: { name: 'shop', namespace: 'default' },
          spec: { type: 'service', lifecycle: 'production', owner: 'group:default/payments' },
        }}
      >
        <EntityPavedAppCard />
      </EntityProvider>
    </TestApiProvider>,
  );
}

describe('EntityPavedAppCard', () => {
  it("shows the service's four keys with their DORA tiers", async () => {
    const api = fake();
    await render(api);
    expect(await screen.findByTestId('entity-dora-Lead time for changes')).toHaveTextContent('7 minElite');
    expect(screen.getByTestId('entity-dora-Change failure rate')).toHaveTextContent('15.38%High2 of 13 changes failed');
    expect(screen.getByTestId('entity-dora-Time to restore')).toHaveTextContent('10 minElite');
    expect(api.dora).toHaveBeenCalledWith({ groupBy: 'service', service: 'component:default/shop' });
  });

  it("asks paved for the service's row alone and shows it", async () => {
    const urls: string[] = [];
    const client = new PavedClient({
      discoveryApi: { getBaseUrl: async id => `http://paved.test/api/${id}` },
      fetchApi: {
        fetch: async (input: RequestInfo | URL) => {
          const url = String(input);
          urls.push(url);
          const body = url.includes('/devex/v1/dora?')
            ? { from: '', to: '', groupBy: 'service', overall: fourKeys(''), items: [{ ...fourKeys('component:shop'), changes: 7, failedChanges: 3 }] }
            : apps;
          return { ok: true, json: async () => body } as Response;
        },
      },
    });
    await render(client);
    expect(await screen.findByTestId('entity-dora-Change failure rate')).toHaveTextContent('3 of 7 changes failed');
    const dora = urls.filter(u => u.includes('/devex/v1/dora?')).map(u => new URL(u).searchParams);
    expect(dora).toHaveLength(1);
    expect(dora[0].get('service')).toBe('component:default/shop');
    expect(dora[0].get('groupBy')).toBe('service');
  });

  it('finds the service under the ref its template wrote, in any case or short form', async () => {
    await render(fake({ dora: jest.fn(async () => ({
      from: '', to: '', groupBy: 'service' as const, overall: fourKeys(''),
      items: [fourKeys('component:default/shopping'), { ...fourKeys('Component:Shop'), changes: 4, failedChanges: 1 }],
    })) }));
    expect(await screen.findByTestId('entity-dora-Change failure rate')).toHaveTextContent('1 of 4 changes failed');
  });

  it('says so when the service has no sync in the period', async () => {
    await render(fake({ dora: jest.fn(async () => ({ from: '', to: '', groupBy: 'service' as const, overall: fourKeys(''), items: [] })) }));
    expect(await screen.findByTestId('entity-dora-none')).toHaveTextContent('No sync');
  });

  it('shows progress while paved answers', async () => {
    await render(fake({ entityApps: jest.fn(() => new Promise<EntityApps>(() => {})) }));
    expect(screen.getByTestId('progress')).toBeInTheDocument();
  });

  it("shows the component's apps on every instance with status, revision, last operation and a link to Argo CD", async () => {
    const api = fake();
    await render(api);
    const prod = await screen.findByTestId('paved-app-prod-shop-production');
    expect(prod).toHaveTextContent('prod');
    expect(prod).toHaveTextContent('Synced');
    expect(prod).toHaveTextContent('Healthy');
    expect(prod).toHaveTextContent('0123456');
    expect(screen.getByRole('link', { name: /shop-production/ })).toHaveAttribute(
      'href',
      'https://argocd.prod.example/applications/argocd/shop',
    );
    const staging = screen.getByTestId('paved-app-staging-shop-staging');
    expect(staging).toHaveTextContent('OutOfSync');
    expect(staging).toHaveTextContent('Degraded');
    expect(screen.getByTestId('paved-app-operation-staging-shop-staging')).toHaveTextContent(
      'Failed: one or more objects failed to apply: Deployment.apps "shop" is invalid',
    );
    expect(api.entityApps).toHaveBeenCalledWith('component:default/shop');
  });

  it("shows what Argo CD reports keeping an app from Synced and Healthy (a path that does not exist)", async () => {
    const broken = app({
      name: 'shop',
      syncStatus: 'Unknown',
      revision: '',
      problems: [
        { status: 'ComparisonError', message: 'rpc error: code = Unknown desc = deploy: app path does not exist' },
        { resource: 'Deployment shop/web', status: 'Degraded', message: 'exceeded its progress deadline' },
      ],
    });
    await render(fake({ entityApps: jest.fn(async () => ({ ...apps, items: [broken, app({ name: 'fine' })] })) }));
    const problems = await screen.findByTestId('paved-app-problems-prod-shop');
    expect(problems).toHaveTextContent(
      /Argo CD reports 2 problems.*ComparisonError — rpc error: code = Unknown desc = deploy: app path does not exist.*Deployment shop\/web: Degraded — exceeded its progress deadline/,
    );
    expect(screen.queryByTestId('paved-app-problems-prod-fine')).not.toBeInTheDocument();
  });

  it('syncs through paved and shows the new state', async () => {
    const api = fake();
    await render(api);
    await userEvent.click(await screen.findByTestId('paved-sync-staging-shop-staging'));
    await waitFor(() =>
      expect(screen.getByTestId('paved-app-operation-staging-shop-staging')).toHaveTextContent('Running: syncing'),
    );
    expect(api.syncApp).toHaveBeenCalledWith({ instance: 'staging', name: 'shop-staging', namespace: undefined });
  });

  it("shows paved's refusal of a sync", async () => {
    const err = await pavedError(403, 'NotAllowedError', 'user:default/dave is not the owner of prod/shop-production');
    await render(fake({ syncApp: jest.fn(async () => Promise.reject(err)) }));
    await userEvent.click(await screen.findByTestId('paved-sync-prod-shop-production'));
    expect(await screen.findByTestId('paved-sync-error-prod-shop-production')).toHaveTextContent(
      /Sync refused.*user:default\/dave is not the owner of prod\/shop-production/,
    );
  });

  it('offers no sync to a user paved would refuse', async () => {
    const api = fake({ entityApps: jest.fn(async () => ({ ...apps, items: [app({ canSync: false })] })) });
    await render(api);
    expect(await screen.findByTestId('paved-sync-prod-shop')).toBeDisabled();
  });

  it('says so when paved made no app, and names an instance that did not answer', async () => {
    await render(
      fake({
        entityApps: jest.fn(async () => ({
          entityRef: 'component:default/shop',
          items: [],
          unavailable: [{ instance: 'staging', message: 'Argo CD staging: connection refused' }],
        })),
      }),
    );
    expect(await screen.findByText('No Argo CD application')).toBeInTheDocument();
    expect(document.body).toHaveTextContent(/Argo CD instance staging did not answer.*connection refused/);
  });

  it("shows paved's error", async () => {
    const err = await pavedError(503, 'ServiceUnavailableError', 'no Argo CD instance is configured');
    await render(fake({ entityApps: jest.fn(async () => Promise.reject(err)) }));
    expect((await screen.findAllByText(/no Argo CD instance is configured/)).length).toBeGreaterThan(0);
  });

  it("shows paved's refusal to read", async () => {
    const err = await pavedError(403, 'NotAllowedError', 'user:default/dave may not paved.argocd.app.read');
    await render(fake({ entityApps: jest.fn(async () => Promise.reject(err)) }));
    expect((await screen.findAllByText(/user:default\/dave may not paved.argocd.app.read/)).length).toBeGreaterThan(0);
  });
});
