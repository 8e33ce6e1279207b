import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import {
  EntityProviderConnection,
  EntityProviderMutation,
} from '@backstage/plugin-catalog-node';
import { component, FakePavedCatalog, until } from './FakePavedCatalog';
import { PavedCatalogClient } from './PavedCatalogClient';
import { PavedEntityProvider } from './PavedEntityProvider';

describe('PavedEntityProvider', () => {
  let paved: FakePavedCatalog;
  let mutations: EntityProviderMutation[];
  let provider: PavedEntityProvider;
  let logger: ReturnType<typeof mockServices.logger.mock>;
  let client: PavedCatalogClient;

  beforeEach(async () => {
    paved = new FakePavedCatalog();
    const baseUrl = await paved.start();
    mutations = [];
    logger = mockServices.logger.mock();
    client = new PavedCatalogClient(
      mockServices.discovery.mock({ getBaseUrl: async () => baseUrl }),
      mockServices.auth({ pluginId: 'catalog' }),
    );
    provider = new PavedEntityProvider(client, logger, undefined, 2);
    const connection: EntityProviderConnection = {
      applyMutation: async m => {
        mutations.push(m);
      },
      refresh: async () => {},
    };
    await provider.connect(connection);
  });

  afterEach(() => paved.stop());

  const names = (m: EntityProviderMutation) =>
    m.type === 'full'
      ? m.entities.map(e => e.entity.metadata.name).sort()
      : m.added.map(e => e.entity.metadata.name).sort();

  it('applies the whole snapshot, paged, with paved location keys and a plugin token for paved', async () => {
    paved.put(...['a', 'b', 'c', 'd', 'e'].map(n => component(n)));

    await provider.refresh();

    expect(mutations).toHaveLength(1);
    expect(mutations[0].type).toBe('full');
    expect(names(mutations[0])).toEqual(['a', 'b', 'c', 'd', 'e']);
    const full = mutations[0] as Extract<EntityProviderMutation, { type: 'full' }>;
    expect(full.entities.every(e => e.locationKey === 'paved:argocd-main')).toBe(true);
    const pages = paved.requests.filter(r => r.url.startsWith('/api/paved/catalog/entities'));
    expect(pages.map(r => r.url)).toEqual([
      '/api/paved/catalog/entities?limit=2',
      '/api/paved/catalog/entities?cursor=2&limit=2',
      '/api/paved/catalog/entities?cursor=4&limit=2',
    ]);
    const token = mockCredentials.service.token({
      onBehalfOf: mockCredentials.service('plugin:catalog'),
      targetPluginId: 'paved',
    });
    expect(paved.requests.every(r => r.authorization === `Bearer ${token}`)).toBe(true);
  });

  it('skips an unchanged snapshot through If-None-Match', async () => {
    paved.put(component('a'));
    await provider.fullRefresh();
    await provider.fullRefresh();

    expect(mutations).toHaveLength(1);
    const last = paved.requests.filter(r => r.url.startsWith('/api/paved/catalog/entities')).pop();
    expect(last?.ifNoneMatch).toBe('"v2"');
  });

  it('long-polls: paved answers the held request with the change', async () => {
    paved.put(component('a'));
    await provider.refresh();

    const polled = provider.poll('10s');
    await until(() => paved.requests.some(r => r.url.includes('wait=10s')));
    paved.put(component('b'));
    await polled;

    expect(mutations.map(m => m.type)).toEqual(['full', 'delta']);
    expect(names(mutations[1])).toEqual(['b']);
    const poll = paved.requests.find(r => r.url.includes('wait=10s'));
    expect(poll?.url).toBe('/api/paved/catalog/changes?cursor=2&wait=10s');
  });

  it('drops a long poll answer that a full refresh overtook', async () => {
    paved.put(component('a'));
    await provider.refresh();
    // The poll's answer is held back until the full refresh is done.
    let release!: () => void;
    const gate = new Promise<void>(resolve => {
      release = resolve;
    });
    const changes = client.changes.bind(client);
    jest.spyOn(client, 'changes').mockImplementation(async options => {
      const answer = await changes(options);
      if (options.wait) await gate;
      return answer;
    });
    paved.put(component('b'));
    const polled = provider.poll('10s');
    await provider.fullRefresh();
    release();
    await polled;

    // The snapshot had b already; the older delta is not applied after it.
    expect(mutations.map(m => m.type)).toEqual(['full', 'full']);
    expect(names(mutations[1])).toEqual(['a', 'b']);
  });

  it('applies changes since the cursor as a delta', async () => {
    paved.put(component('a'), component('b'));
    await provider.refresh();

    paved.put(component('c'), component('a', 'group:default/team-b'));
    paved.remove(component('b'));
    await provider.refresh();

    expect(mutations).toHaveLength(2);
    const delta = mutations[1];
    expect(delta.type).toBe('delta');
    expect(names(delta)).toEqual(['a', 'c']);
    expect(delta.type === 'delta' && delta.removed).toEqual([
      { entityRef: 'component:default/b', locationKey: 'paved:argocd-main' },
    ]);

    await provider.refresh();
    expect(mutations).toHaveLength(2);
  });

  it('falls back to a full snapshot when paved resets the cursor', async () => {
    paved.put(component('a'));
    await provider.refresh();
    paved.put(component('b'));
    paved.compact();

    await provider.refresh();

    expect(mutations.map(m => m.type)).toEqual(['full', 'full']);
    expect(names(mutations[1])).toEqual(['a', 'b']);
    expect(logger.info).toHaveBeenCalledWith(expect.stringContaining('too old'));
  });

  it('starts over when the snapshot changes while it is paged', async () => {
    paved.put(component('a'), component('b'), component('c'));
    let tears = 1;
    paved.afterPage = cursor => {
      if (cursor === undefined && tears-- > 0) paved.put(component('z'));
    };

    await provider.refresh();

    expect(mutations).toHaveLength(1);
    expect(names(mutations[0])).toEqual(['a', 'b', 'c', 'z']);
  });

  it('gives up on a snapshot that never holds still, applying nothing', async () => {
    paved.put(component('a'), component('b'), component('c'));
    paved.afterPage = cursor => {
      if (cursor === undefined) paved.put(component(`x${paved.requests.length}`));
    };

    await expect(provider.refresh()).rejects.toThrow(/changed while it was read/);
    expect(mutations).toHaveLength(0);
  });

  it('fills in missing location annotations so the catalog keeps the entity', async () => {
    const bare = component('bare');
    bare.metadata.annotations = { 'argocd/app-name': 'bare' };
    paved.put(bare);

    await provider.refresh();

    const full = mutations[0] as Extract<EntityProviderMutation, { type: 'full' }>;
    const annotations = full.entities[0].entity.metadata.annotations!;
    expect(annotations['backstage.io/managed-by-location']).toMatch(
      /^url:http:\/\/127\.0\.0\.1:\d+\/api\/paved\/catalog\/entities$/,
    );
    expect(annotations['backstage.io/managed-by-origin-location']).toBe(
      annotations['backstage.io/managed-by-location'],
    );
    expect(annotations['argocd/app-name']).toBe('bare');
  });

  it("fails with paved's error and keeps the catalog as it was", async () => {
    paved.failWith = {
      status: 503,
      name: 'ServiceUnavailableError',
      message: 'argocd instance main unreachable',
    };

    await expect(provider.refresh()).rejects.toMatchObject({
      name: 'ResponseError',
      cause: { message: 'argocd instance main unreachable' },
    });
    expect(mutations).toHaveLength(0);
  });
});
