import { Entity } from '@backstage/catalog-model';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { PavedEntity } from './PavedCatalogClient';

/**
 * A paved that speaks only the catalog part of its HTTP contract
 * (docs/api.md), on a loopback port, for tests. The snapshot has a version;
 * every change bumps it, and the changes endpoint replays the versions after
 * a cursor.
 */
export class FakePavedCatalog {
  readonly requests: { url: string; authorization?: string; ifNoneMatch?: string }[] = [];
  /** Called after each page of entities is served; lets a test change the snapshot mid-read. */
  afterPage?: (cursor: string | undefined) => void;
  /** When set, every request fails with this Backstage error. */
  failWith?: { status: number; name: string; message: string };

  private entities = new Map<string, PavedEntity>();
  private version = 1;
  private oldestCursor = 1;
  private log: {
    version: number;
    added: PavedEntity[];
    updated: PavedEntity[];
    removed: { entityRef: string; locationKey?: string }[];
  }[] = [];
  private server?: Server;
  // Long polls waiting for the next change.
  private waiters = new Set<() => void>();

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>(resolve =>
      this.server!.listen(0, '127.0.0.1', resolve),
    );
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/api/paved`;
  }

  async stop(): Promise<void> {
    for (const wake of this.waiters) wake();
    this.server?.closeAllConnections();
    await new Promise<void>(resolve => this.server?.close(() => resolve()));
  }

  put(...entities: Entity[]) {
    const added: PavedEntity[] = [];
    const updated: PavedEntity[] = [];
    for (const entity of entities) {
      const item = { entity, locationKey: 'paved:argocd-main' };
      (this.entities.has(ref(entity)) ? updated : added).push(item);
      this.entities.set(ref(entity), item);
    }
    this.record({ added, updated, removed: [] });
  }

  remove(...entities: Entity[]) {
    for (const entity of entities) this.entities.delete(ref(entity));
    this.record({
      added: [],
      updated: [],
      removed: entities.map(e => ({ entityRef: ref(e), locationKey: 'paved:argocd-main' })),
    });
  }

  /** Forgets the change log, as paved does past its retention: old cursors get `reset: true`. */
  compact() {
    this.log = [];
    this.oldestCursor = this.version;
  }

  private record(change: Omit<FakePavedCatalog['log'][number], 'version'>) {
    this.version++;
    this.log.push({ version: this.version, ...change });
    for (const wake of this.waiters) wake();
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://paved');
    this.requests.push({
      url: `${url.pathname}${url.search}`,
      authorization: req.headers.authorization,
      ifNoneMatch: req.headers['if-none-match'] as string | undefined,
    });
    if (this.failWith) {
      const { status, name, message } = this.failWith;
      json(res, status, {
        error: { name, message },
        request: { method: req.method, url: req.url },
        response: { statusCode: status },
      });
      return;
    }
    if (url.pathname === '/api/paved/catalog/entities') {
      this.serveEntities(req, res, url);
      return;
    }
    if (url.pathname === '/api/paved/catalog/changes') {
      this.serveChanges(res, url);
      return;
    }
    json(res, 404, {
      error: { name: 'NotFoundError', message: `no route ${url.pathname}` },
      response: { statusCode: 404 },
    });
  }

  private serveEntities(req: IncomingMessage, res: ServerResponse, url: URL) {
    const etag = `"v${this.version}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag });
      res.end();
      return;
    }
    const limit = Number(url.searchParams.get('limit') ?? '100');
    const cursor = url.searchParams.get('cursor') ?? undefined;
    const offset = Number(cursor ?? '0');
    const all = [...this.entities.values()];
    const items = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? String(offset + limit) : undefined;
    json(res, 200, { items, ...(next ? { nextCursor: next } : {}) }, { ETag: etag });
    this.afterPage?.(cursor);
  }

  private serveChanges(res: ServerResponse, url: URL) {
    // `wait` (e.g. 30s, 200ms): hold the request until a change or the timeout, as paved does.
    const wait = /^(\d+)(ms|s)$/.exec(url.searchParams.get('wait') ?? '');
    const cursor = url.searchParams.get('cursor');
    if (wait && cursor && Number(cursor) === this.version && !this.failWith) {
      const ms = Number(wait[1]) * (wait[2] === 's' ? 1000 : 1);
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        this.serveChanges(res, new URL(`/?cursor=${cursor}`, 'http://paved'));
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
      return;
    }
    const current = String(this.version);
    if (!cursor || Number(cursor) < this.oldestCursor) {
      json(res, 200, { cursor: current, added: [], updated: [], removed: [], reset: true });
      return;
    }
    const since = this.log.filter(c => c.version > Number(cursor));
    json(res, 200, {
      cursor: current,
      added: since.flatMap(c => c.added),
      updated: since.flatMap(c => c.updated),
      removed: since.flatMap(c => c.removed),
      reset: false,
    });
  }
}

/** Resolves once cond holds (checked every 10 ms); rejects after ms. */
export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms`);
    await new Promise(r => setTimeout(r, 10));
  }
}

export function component(name: string, owner = 'group:default/team-a'): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name,
      namespace: 'default',
      annotations: {
        'argocd/app-name': name,
        'backstage.io/managed-by-location': 'url:http://paved/api/paved/catalog/entities',
        'backstage.io/managed-by-origin-location': 'url:http://paved/api/paved/catalog/entities',
      },
    },
    spec: { type: 'service', lifecycle: 'production', owner },
  };
}

function ref(entity: Entity): string {
  return `${entity.kind.toLocaleLowerCase('en-US')}:${entity.metadata.namespace ?? 'default'}/${entity.metadata.name}`;
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
