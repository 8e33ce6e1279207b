import {
  LoggerService,
  SchedulerServiceTaskRunner,
} from '@backstage/backend-plugin-api';
import { isError } from '@backstage/errors';
import {
  ANNOTATION_LOCATION,
  ANNOTATION_ORIGIN_LOCATION,
  Entity,
} from '@backstage/catalog-model';
import {
  DeferredEntity,
  EntityProvider,
  EntityProviderConnection,
} from '@backstage/plugin-catalog-node';
import { Changes, EntitiesPage, PavedEntity } from './PavedCatalogClient';

/**
 * What the provider needs from paved: declared here, next to its only
 * consumer, so tests and other transports can stand in.
 *
 * @public
 */
export interface PavedCatalogSource {
  /** One page of paved's catalog snapshot; undefined when it still matches `ifNoneMatch`. */
  entities(options: {
    cursor?: string;
    limit?: number;
    ifNoneMatch?: string;
  }): Promise<EntitiesPage | undefined>;
  /** The changes after `cursor`, waiting up to `wait` for one (long poll). */
  changes(options: { cursor?: string; wait?: string; signal?: AbortSignal }): Promise<Changes>;
  /** paved's base URL, for the entities' location annotations. */
  baseUrl(): Promise<string>;
}

// A snapshot whose ETag changes while it is paged is being rewritten under
// us; starting over a few times is cheaper than applying a torn snapshot.
const maxSnapshotAttempts = 3;

// After a failed long poll the next waits 1 s, doubling up to 30 s.
const minRetryMs = 1000;
const maxRetryMs = 30_000;

/**
 * Mirrors paved's catalog: a full mutation from `catalog/entities` and delta
 * mutations from `catalog/changes`. The changes cursor lives in memory: after
 * a restart the first refresh is a full one, which makes a lost cursor
 * harmless.
 *
 * @public
 */
export class PavedEntityProvider implements EntityProvider {
  private connection?: EntityProviderConnection;
  private cursor?: string;
  private etag?: string;
  // Full and delta refreshes come from two scheduled tasks; applying them one
  // after the other keeps a delta from racing a snapshot it predates.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly source: PavedCatalogSource,
    private readonly logger: LoggerService,
    private readonly schedules?: {
      full: SchedulerServiceTaskRunner;
      /** Poll changes on a schedule instead of the long poll. */
      changes?: SchedulerServiceTaskRunner;
      /**
       * The long poll of `catalog/changes` (the default): how long paved
       * holds a request without changes, e.g. "30s"; and the signal that
       * ends it at shutdown.
       */
      watch?: { wait: string; signal: AbortSignal };
    },
    private readonly pageSize = 500,
  ) {}

  /** {@inheritDoc @backstage/plugin-catalog-node#EntityProvider.getProviderName} */
  getProviderName(): string {
    return 'paved';
  }

  /** {@inheritDoc @backstage/plugin-catalog-node#EntityProvider.connect} */
  async connect(connection: EntityProviderConnection): Promise<void> {
    this.connection = connection;
    if (!this.schedules) return;
    await this.schedules.full.run({
      id: `${this.getProviderName()}:full`,
      fn: () => this.logged('full refresh', () => this.fullRefresh()),
    });
    if (this.schedules.changes) {
      await this.schedules.changes.run({
        id: `${this.getProviderName()}:changes`,
        fn: () => this.logged('refresh', () => this.refresh()),
      });
    }
    if (this.schedules.watch) {
      const { wait, signal } = this.schedules.watch;
      // Not awaited: it runs until the backend shuts down.
      void this.watch(wait, signal);
    }
  }

  /**
   * Follows paved's changes feed with long polls until signal aborts: each
   * change reaches the catalog as soon as paved records it, instead of at
   * the next scheduled poll. One replica of the catalog or several: each
   * follows the feed; replaying a change is harmless.
   */
  async watch(wait: string, signal: AbortSignal): Promise<void> {
    let retryMs = minRetryMs;
    while (!signal.aborted) {
      try {
        await this.poll(wait, signal);
        retryMs = minRetryMs;
      } catch (error) {
        if (signal.aborted) return;
        this.logger.error(
          `paved catalog changes failed, again in ${retryMs / 1000}s: ${describe(error)}`,
        );
        await sleep(retryMs, signal);
        retryMs = Math.min(retryMs * 2, maxRetryMs);
      }
    }
  }

  /** One long poll: waits for changes since the cursor and applies them. */
  async poll(wait: string, signal?: AbortSignal): Promise<void> {
    const from = this.cursor;
    if (from === undefined) {
      await this.serialized(() => this.applyFull(true));
      return;
    }
    // The wait holds no lock: a full refresh may go meanwhile.
    const changes = await this.source.changes({ cursor: from, wait, signal });
    await this.serialized(async () => {
      // A full refresh moved the cursor while we waited: these changes
      // predate it; the next poll asks again from its cursor.
      if (this.cursor !== from) return;
      await this.applyChanges(changes);
    });
  }

  /** Applies an answer of `catalog/changes`: a delta, or a full snapshot after a reset. */
  private async applyChanges(changes: Changes): Promise<void> {
    if (changes.reset) {
      this.logger.info(
        'paved says the changes cursor is too old; applying a full snapshot',
      );
      await this.applyFull(true);
      return;
    }
    await this.applyDelta(changes);
  }

  /** Applies paved's whole snapshot, unless paved says it has not changed. */
  fullRefresh(): Promise<void> {
    return this.serialized(() => this.applyFull(false));
  }

  /** Applies the changes since the last refresh, or a full snapshot if there is no usable cursor. */
  refresh(): Promise<void> {
    return this.serialized(async () => {
      if (this.cursor === undefined) {
        await this.applyFull(true);
        return;
      }
      await this.applyChanges(await this.source.changes({ cursor: this.cursor }));
    });
  }

  // The scheduler would log only "Request failed with 503"; paved's own
  // message (carried as the ResponseError's cause) is what an operator needs.
  private async logged(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.logger.error(`paved catalog ${what} failed: ${describe(error)}`);
    }
  }

  private serialized(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async applyFull(force: boolean): Promise<void> {
    const connection = this.requireConnection();
    // The cursor is taken before the snapshot: changes that land while the
    // snapshot is read are applied again by the next delta, which is
    // harmless, whereas a cursor taken after could skip them.
    const { cursor } = await this.source.changes({});
    const base = await this.source.baseUrl();

    for (let attempt = 1; ; attempt++) {
      const snapshot = await this.readSnapshot(force ? undefined : this.etag);
      if (snapshot === 'unchanged') {
        this.logger.debug('paved catalog snapshot unchanged (304)');
        this.cursor = cursor;
        return;
      }
      if (snapshot === 'torn') {
        if (attempt < maxSnapshotAttempts) continue;
        throw new Error(
          `paved's catalog snapshot changed while it was read, ${maxSnapshotAttempts} times in a row`,
        );
      }
      await connection.applyMutation({
        type: 'full',
        entities: snapshot.items.map(item => toDeferred(item, base)),
      });
      this.etag = snapshot.etag;
      this.cursor = cursor;
      this.logger.info(
        `Applied paved's catalog snapshot: ${snapshot.items.length} entities`,
      );
      return;
    }
  }

  private async readSnapshot(
    ifNoneMatch?: string,
  ): Promise<{ items: PavedEntity[]; etag?: string } | 'unchanged' | 'torn'> {
    const items: PavedEntity[] = [];
    let etag: string | undefined;
    let pageCursor: string | undefined;
    do {
      const page = await this.source.entities({
        cursor: pageCursor,
        limit: this.pageSize,
        ifNoneMatch: pageCursor ? undefined : ifNoneMatch,
      });
      if (!page) return 'unchanged';
      if (pageCursor === undefined) etag = page.etag;
      else if (page.etag !== etag) return 'torn';
      items.push(...page.items);
      pageCursor = page.nextCursor;
    } while (pageCursor);
    return { items, etag };
  }

  private async applyDelta(changes: Changes): Promise<void> {
    const connection = this.requireConnection();
    const count =
      changes.added.length + changes.updated.length + changes.removed.length;
    if (count > 0) {
      const base = await this.source.baseUrl();
      await connection.applyMutation({
        type: 'delta',
        added: [...changes.added, ...changes.updated].map(item =>
          toDeferred(item, base),
        ),
        removed: changes.removed.map(r => ({
          entityRef: r.entityRef,
          locationKey: r.locationKey,
        })),
      });
      // The snapshot no longer matches what we applied: the next full
      // refresh must not be skipped by a 304.
      this.etag = undefined;
      this.logger.info(
        `Applied paved's catalog changes: ${changes.added.length} added, ${changes.updated.length} updated, ${changes.removed.length} removed`,
      );
    }
    this.cursor = changes.cursor;
  }

  private requireConnection(): EntityProviderConnection {
    if (!this.connection) {
      throw new Error('PavedEntityProvider is not connected to the catalog');
    }
    return this.connection;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

function describe(error: unknown): string {
  if (!isError(error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return isError(cause) && cause.message !== error.message
    ? `${error.message}: ${cause.message}`
    : error.message;
}

// The catalog drops provided entities without both location annotations;
// paved sets them, and this fallback keeps one bad entity from vanishing.
function toDeferred(item: PavedEntity, base: string): DeferredEntity {
  const annotations = item.entity.metadata.annotations ?? {};
  const location = `url:${base}/catalog/entities`;
  const entity: Entity = {
    ...item.entity,
    metadata: {
      ...item.entity.metadata,
      annotations: {
        [ANNOTATION_LOCATION]: location,
        [ANNOTATION_ORIGIN_LOCATION]: location,
        ...annotations,
      },
    },
  };
  return { entity, locationKey: item.locationKey };
}
