import {
  AuthService,
  DiscoveryService,
} from '@backstage/backend-plugin-api';
import { Entity } from '@backstage/catalog-model';
import { ResponseError } from '@backstage/errors';

/**
 * One entity as paved serves it, with the location key that owns it.
 *
 * @public
 */
export type PavedEntity = { entity: Entity; locationKey?: string };

/**
 * A page of `GET catalog/entities`.
 *
 * @public
 */
export type EntitiesPage = {
  items: PavedEntity[];
  nextCursor?: string;
  etag?: string;
};

/**
 * The body of `GET catalog/changes`.
 *
 * @public
 */
export type Changes = {
  cursor: string;
  added: PavedEntity[];
  updated: PavedEntity[];
  removed: { entityRef: string; locationKey?: string }[];
  reset: boolean;
};

/**
 * Speaks paved's catalog contract (docs/api.md, "Catalog"). Every request
 * carries a plugin token of the catalog addressed to paved, so paved can tell
 * the catalog apart from users and scripts.
 *
 * @public
 */
export class PavedCatalogClient {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly auth: AuthService,
    private readonly pluginId = 'paved',
  ) {}

  /** Returns undefined when paved answers 304 to `ifNoneMatch`. */
  async entities(options: {
    cursor?: string;
    limit?: number;
    ifNoneMatch?: string;
  }): Promise<EntitiesPage | undefined> {
    const params = new URLSearchParams();
    if (options.cursor) params.set('cursor', options.cursor);
    if (options.limit) params.set('limit', String(options.limit));
    const headers: Record<string, string> = {};
    if (options.ifNoneMatch) headers['If-None-Match'] = options.ifNoneMatch;
    const res = await this.get('catalog/entities', params, headers);
    if (res.status === 304) return undefined;
    const body = (await res.json()) as {
      items?: PavedEntity[];
      nextCursor?: string;
    };
    return {
      items: body.items ?? [],
      nextCursor: body.nextCursor || undefined,
      etag: res.headers.get('etag') ?? undefined,
    };
  }

  /** `wait` long-polls: paved answers at the first change or after `wait`. */
  async changes(options: { cursor?: string; wait?: string; signal?: AbortSignal }): Promise<Changes> {
    const params = new URLSearchParams();
    if (options.cursor) params.set('cursor', options.cursor);
    if (options.wait) params.set('wait', options.wait);
    const res = await this.get('catalog/changes', params, {}, options.signal);
    const body = (await res.json()) as Partial<Changes>;
    return {
      cursor: body.cursor ?? '',
      added: body.added ?? [],
      updated: body.updated ?? [],
      removed: body.removed ?? [],
      reset: body.reset ?? false,
    };
  }

  /** paved's base URL, as discovery resolves it. */
  async baseUrl(): Promise<string> {
    return this.discovery.getBaseUrl(this.pluginId);
  }

  private async get(
    path: string,
    params: URLSearchParams,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Response> {
    const { token } = await this.auth.getPluginRequestToken({
      onBehalfOf: await this.auth.getOwnServiceCredentials(),
      targetPluginId: this.pluginId,
    });
    const query = params.toString();
    const url = `${await this.baseUrl()}/${path}${query ? `?${query}` : ''}`;
    const res = await fetch(url, {
      headers: {
        ...headers,
        Accept: 'application/json',
        Authorization: `Bearer ${token}`,
      },
      signal,
    });
    if (!res.ok && res.status !== 304) {
      throw await ResponseError.fromResponse(res);
    }
    return res;
  }
}
