import { TestApiProvider, renderInTestApp } from '@backstage/test-utils';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import { Entity } from '@backstage/catalog-model';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ConnectionDetails, InfraResource, PavedApi, pavedApiRef } from '../../api';
import { pavedError } from '../../testUtils';
import { EntityPavedResourceCard } from './EntityPavedResourceCard';
import { PavedResource, formatExpiry } from './ResourceCard';

const now = new Date('2026-12-03T12:00:00Z');

const db: InfraResource = {
  id: '6f1c2a0e-0000-4000-8000-000000000001',
  kind: 'postgresql',
  title: 'PostgreSQL database',
  name: 'orders',
  driver: 'postgres',
  owner: 'group:default/payments',
  createdBy: 'user:default/carol',
  parameters: { size: 'medium', region: 'us-east-1' },
  status: 'ready',
  createdAt: '2026-12-01T12:00:00Z',
  updatedAt: '2026-12-01T12:00:00Z',
  expiresAt: '2026-12-05T12:00:00Z',
  costMonthly: '480 USD',
  hasConnection: true,
  canManage: true,
  canReadConnection: true,
};

const secret: ConnectionDetails = {
  id: db.id,
  kind: 'postgresql',
  name: 'orders',
  owner: db.owner,
  connection: { host: 'db.internal', port: '5432', database: 'orders', username: 'orders', password: 's3cr3t-pw' },
};

type Fake = Pick<PavedApi, 'resource' | 'extendResource' | 'deleteResource' | 'connection'>;

function fake(over: Partial<Fake> = {}): jest.Mocked<Fake> {
  return {
    resource: jest.fn(async () => db),
    extendResource: jest.fn(async () => ({ ...db, expiresAt: '2026-12-12T12:00:00Z' })),
    deleteResource: jest.fn(async () => ({ id: db.id, kind: db.kind, name: db.name, deleted: true })),
    connection: jest.fn(async () => secret),
    ...over,
  } as jest.Mocked<Fake>;
}

function render(api: Fake, node = <PavedResource id={db.id} now={now} />) {
  return renderInTestApp(<TestApiProvider apis={[[pavedApiRef, api]]}>{node}</TestApiProvider>);
}

describe('PavedResource', () => {
  it('shows progress while paved answers', async () => {
    await render(fake({ resource: jest.fn(() => new Promise<InfraResource>(() => {})) }));
    expect(screen.getByTestId('progress')).toBeInTheDocument();
  });

  it('shows what the resource is, its owner, lifetime and cost', async () => {
    const api = fake();
    await render(api);
    expect(await screen.findByTestId('paved-resource-kind')).toHaveTextContent('PostgreSQL database (postgresql)');
    expect(screen.getByTestId('paved-resource-size')).toHaveTextContent('medium · us-east-1');
    expect(screen.getByTestId('paved-resource-status')).toHaveTextContent('ready');
    expect(screen.getByTestId('paved-resource-owner')).toHaveTextContent('group:default/payments');
    expect(screen.getByTestId('paved-resource-expiry')).toHaveTextContent('expires in 2 d (2026-12-05 12:00 UTC)');
    expect(screen.getByTestId('paved-resource-cost')).toHaveTextContent('480 USD / month');
    expect(api.resource).toHaveBeenCalledWith(db.id);
    // Nothing secret is asked for before the owner clicks.
    expect(api.connection).not.toHaveBeenCalled();
    expect(document.body.textContent).not.toContain('s3cr3t-pw');
  });

  it('reveals the connection details on click for the owner, with copy buttons, and forgets them', async () => {
    const api = fake();
    const { unmount } = await render(api);
    await userEvent.click(await screen.findByTestId('paved-connection-reveal'));
    expect(await screen.findByTestId('paved-connection-password')).toHaveTextContent('s3cr3t-pw');
    expect(screen.getByTestId('paved-connection-host')).toHaveTextContent('db.internal');
    for (const key of Object.keys(secret.connection)) {
      expect(screen.getByRole('button', { name: `Copy ${key}` })).toBeInTheDocument();
    }
    expect(api.connection).toHaveBeenCalledTimes(1);

    await userEvent.click(screen.getByTestId('paved-connection-hide'));
    expect(document.body.textContent).not.toContain('s3cr3t-pw');
    // Shown again: asked again (no copy kept in the page).
    await userEvent.click(screen.getByTestId('paved-connection-reveal'));
    expect(await screen.findByTestId('paved-connection-password')).toHaveTextContent('s3cr3t-pw');
    expect(api.connection).toHaveBeenCalledTimes(2);
    unmount();
    expect(document.body.textContent).not.toContain('s3cr3t-pw');
  });

  it('tells a non-owner the details are not theirs and never asks for them', async () => {
    const api = fake({ resource: jest.fn(async () => ({ ...db, canManage: false, canReadConnection: false })) });
    await render(api);
    expect(await screen.findByTestId('paved-connection-not-yours')).toHaveTextContent(
      'Not yours: the connection details of orders are shown only to its owner, group:default/payments',
    );
    expect(screen.queryByTestId('paved-connection-reveal')).not.toBeInTheDocument();
    expect(screen.getByTestId('paved-manage-forbidden')).toHaveTextContent('Only its owner, group:default/payments');
    expect(screen.queryByTestId('paved-teardown')).not.toBeInTheDocument();
    expect(api.connection).not.toHaveBeenCalled();
  });

  it("shows the not-yours message when paved refuses the details (403)", async () => {
    const err = await pavedError(403, 'NotAllowedError', 'user:default/dave is not the owner');
    await render(fake({ connection: jest.fn(async () => Promise.reject(err)) }));
    await userEvent.click(await screen.findByTestId('paved-connection-reveal'));
    expect(await screen.findByTestId('paved-connection-not-yours')).toBeInTheDocument();
  });

  it('extends by the chosen time', async () => {
    const api = fake();
    await render(api);
    await userEvent.click(await screen.findByTestId('paved-extend'));
    await waitFor(() => expect(screen.getByTestId('paved-resource-expiry')).toHaveTextContent('expires in 9 d'));
    expect(api.extendResource).toHaveBeenCalledWith(db.id, '7d');
  });

  it("shows paved's refusal of an extension", async () => {
    const err = await pavedError(403, 'NotAllowedError', 'user:default/carol may not paved.infra.extend');
    await render(fake({ extendResource: jest.fn(async () => Promise.reject(err)) }));
    await userEvent.click(await screen.findByTestId('paved-extend'));
    expect((await screen.findAllByText(/user:default\/carol may not paved.infra.extend/)).length).toBeGreaterThan(0);
  });

  it('tears down only after confirmation', async () => {
    const api = fake();
    await render(api);
    await userEvent.click(await screen.findByTestId('paved-teardown'));
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('Tear down orders?');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(api.deleteResource).not.toHaveBeenCalled();

    await userEvent.click(screen.getByTestId('paved-teardown'));
    await userEvent.click(await screen.findByTestId('paved-teardown-confirm'));
    expect(await screen.findByTestId('paved-resource-gone')).toHaveTextContent('Torn down: paved deleted orders.');
    expect(api.deleteResource).toHaveBeenCalledWith(db.id);
  });

  it('says so when paved has no such resource', async () => {
    const err = await pavedError(404, 'NotFoundError', 'no resource');
    await render(fake({ resource: jest.fn(async () => Promise.reject(err)) }));
    expect(await screen.findByText('No such resource')).toBeInTheDocument();
  });

  it("shows paved's error", async () => {
    const err = await pavedError(503, 'ServiceUnavailableError', 'infrastructure golden paths are not enabled in this paved');
    await render(fake({ resource: jest.fn(async () => Promise.reject(err)) }));
    expect((await screen.findAllByText(/infrastructure golden paths are not enabled/)).length).toBeGreaterThan(0);
  });

  it('writes the lifetime', () => {
    expect(formatExpiry(undefined, now)).toBe('kept until torn down');
    expect(formatExpiry('2026-12-03T11:00:00Z', now)).toBe('expired (2026-12-03 11:00 UTC)');
    expect(formatExpiry('2026-12-03T20:00:00Z', now)).toBe('expires in 8 h (2026-12-03 20:00 UTC)');
  });
});

describe('EntityPavedResourceCard', () => {
  const entity = (annotations: Record<string, string>): Entity => ({
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Resource',
    metadata: { name: 'orders', namespace: 'default', annotations },
    spec: { type: 'database', owner: 'group:default/payments' },
  });

  it("reads the resource named by the entity's paved.dev/infra-id, with the annotated cost", async () => {
    const api = fake({ resource: jest.fn(async () => ({ ...db, costMonthly: undefined })) });
    await render(
      api,
      <EntityProvider entity={entity({ 'paved.dev/infra-id': db.id, 'paved.dev/cost-monthly': '30 USD' })}>
        <EntityPavedResourceCard />
      </EntityProvider>,
    );
    expect(await screen.findByTestId('paved-resource-cost')).toHaveTextContent('30 USD / month');
    expect(api.resource).toHaveBeenCalledWith(db.id);
  });

  it('names the missing annotation on an entity paved did not provision', async () => {
    const api = fake();
    await render(
      api,
      <EntityProvider entity={entity({})}>
        <EntityPavedResourceCard />
      </EntityProvider>,
    );
    expect((await screen.findAllByText(/paved\.dev\/infra-id/)).length).toBeGreaterThan(0);
    expect(api.resource).not.toHaveBeenCalled();
  });
});
