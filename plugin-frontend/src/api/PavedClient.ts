import { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import { PavedApi } from './PavedApi';
import {
  CostReport,
  Coverage,
  DevexList,
  DoraReport,
  FeedbackComment,
  Freshness,
  RunFeedback,
  Satisfaction,
  Slos,
  DevexQuery,
  Funnel,
  ServiceDeployments,
  Summary,
  TemplateStats,
  Timeseries,
} from './types';
import { ApprovalRequest, ApprovalState, ConnectionDetails, EntityApp, EntityApps, InfraResource } from './entityTypes';

/**
 * Calls paved through discovery with the fetch API, which adds the signed-in
 * user's Backstage token: paved lets members of its configured groups read.
 *
 * @public
 */
export class PavedClient implements PavedApi {
  private readonly discoveryApi: DiscoveryApi;
  private readonly fetchApi: FetchApi;

  constructor(options: { discoveryApi: DiscoveryApi; fetchApi: FetchApi }) {
    this.discoveryApi = options.discoveryApi;
    this.fetchApi = options.fetchApi;
  }

  /** {@inheritDoc PavedDevexApi.summary} */
  summary(query: DevexQuery): Promise<Summary> {
    return this.json('summary', query);
  }

  /** {@inheritDoc PavedDevexApi.templates} */
  templates(query: DevexQuery): Promise<{ items: TemplateStats[] }> {
    return this.json('templates', query);
  }

  /** {@inheritDoc PavedDevexApi.timeseries} */
  timeseries(query: DevexQuery): Promise<Timeseries> {
    return this.json('timeseries', query);
  }

  /** {@inheritDoc PavedDevexApi.coverage} */
  coverage(query: DevexQuery): Promise<Coverage> {
    return this.json('coverage', query);
  }

  /** {@inheritDoc PavedDevexApi.deployments} */
  deployments(query: DevexQuery): Promise<{ items: ServiceDeployments[] }> {
    return this.json('deployments', query);
  }

  /** {@inheritDoc PavedDevexApi.funnel} */
  funnel(query: DevexQuery): Promise<Funnel> {
    return this.json('funnel', query);
  }

  /** {@inheritDoc PavedDevexApi.satisfaction} */
  satisfaction(query: DevexQuery): Promise<Satisfaction> {
    return this.json('satisfaction', query);
  }

  /** {@inheritDoc PavedDevexApi.slos} */
  slos(): Promise<Slos> {
    return this.json('slos', {});
  }

  /** {@inheritDoc PavedDevexApi.freshness} */
  freshness(query: DevexQuery): Promise<Freshness> {
    return this.json('freshness', { owner: query.owner, template: query.template });
  }

  /** {@inheritDoc PavedDevexApi.feedbackComments} */
  feedbackComments(query: DevexQuery): Promise<{ items: FeedbackComment[] }> {
    return this.json('feedback/comments', query);
  }

  /** {@inheritDoc PavedDevexApi.myRuns} */
  myRuns(): Promise<{ items: RunFeedback[] }> {
    return this.json('feedback/runs', {});
  }

  /** {@inheritDoc PavedDevexApi.myRun} */
  myRun(taskId: string): Promise<RunFeedback> {
    return this.json(`feedback/runs/${encodeURIComponent(taskId)}`, {});
  }

  /** {@inheritDoc PavedDevexApi.rateRun} */
  async rateRun(taskId: string, answer: { score: number; comment: string }): Promise<RunFeedback> {
    const res = await this.fetchApi.fetch(await this.url(`feedback/runs/${encodeURIComponent(taskId)}`, {}), {
      method: 'PUT',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: JSON.stringify(answer),
    });
    if (!res.ok) throw await ResponseError.fromResponse(res);
    return (await res.json()) as RunFeedback;
  }

  /** {@inheritDoc PavedDevexApi.dora} */
  dora(query: DevexQuery): Promise<DoraReport> {
    return this.json('dora', query);
  }

  /** {@inheritDoc PavedDevexApi.costs} */
  costs(query: DevexQuery): Promise<CostReport> {
    return this.json('costs', query);
  }

  /** {@inheritDoc PavedDevexApi.csvUrl} */
  csvUrl(list: DevexList, query: DevexQuery): Promise<string> {
    return this.url(list, query, { format: 'csv' });
  }

  /** {@inheritDoc PavedDevexApi.csv} */
  async csv(list: DevexList, query: DevexQuery): Promise<string> {
    const res = await this.fetchApi.fetch(await this.csvUrl(list, query), {
      headers: { Accept: 'text/csv' },
    });
    if (!res.ok) throw await ResponseError.fromResponse(res);
    return res.text();
  }

  /** {@inheritDoc PavedResourcesApi.resources} */
  resources(filter: { owner?: string; entityRef?: string }): Promise<{ items: InfraResource[] }> {
    const params = new URLSearchParams();
    if (filter.owner) params.set('owner', filter.owner);
    if (filter.entityRef) params.set('entityRef', filter.entityRef);
    const search = params.toString();
    return this.call(`infra/v1/resources${search ? `?${search}` : ''}`);
  }

  /** {@inheritDoc PavedResourcesApi.resource} */
  resource(id: string): Promise<InfraResource> {
    return this.call(`infra/v1/resources/${encodeURIComponent(id)}`);
  }

  /** {@inheritDoc PavedResourcesApi.extendResource} */
  extendResource(id: string, by: string): Promise<InfraResource> {
    return this.call(`infra/v1/resources/${encodeURIComponent(id)}/extend`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ by }),
    });
  }

  /** {@inheritDoc PavedResourcesApi.deleteResource} */
  deleteResource(id: string): Promise<{ id: string; kind: string; name: string; deleted: boolean }> {
    return this.call(`infra/v1/resources/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** {@inheritDoc PavedResourcesApi.connection} */
  connection(id: string): Promise<ConnectionDetails> {
    // Credentials: neither the HTTP cache nor anything else keeps them.
    return this.call(`infra/${encodeURIComponent(id)}/connection`, { cache: 'no-store' });
  }

  /** {@inheritDoc PavedResourcesApi.entityApps} */
  entityApps(entityRef: string): Promise<EntityApps> {
    return this.call(`apps/v1/by-entity?${new URLSearchParams({ entityRef })}`);
  }

  /** {@inheritDoc PavedResourcesApi.syncApp} */
  syncApp(app: { instance: string; name: string; namespace?: string }): Promise<EntityApp> {
    const ns = app.namespace ? `?${new URLSearchParams({ appNamespace: app.namespace })}` : '';
    return this.call(
      `apps/v1/instances/${encodeURIComponent(app.instance)}/apps/${encodeURIComponent(app.name)}/sync${ns}`,
      { method: 'POST' },
    );
  }

  /** {@inheritDoc PavedApprovalsApi.approvals} */
  approvals(state?: ApprovalState): Promise<{ items: ApprovalRequest[] }> {
    return this.call(`approvals/v1/requests${state ? `?${new URLSearchParams({ state })}` : ''}`, { cache: 'no-store' });
  }

  /** {@inheritDoc PavedApprovalsApi.approval} */
  approval(id: string): Promise<ApprovalRequest> {
    return this.call(`approvals/v1/requests/${encodeURIComponent(id)}`, { cache: 'no-store' });
  }

  /** {@inheritDoc PavedApprovalsApi.decideApproval} */
  decideApproval(id: string, decision: { approve: boolean; comment: string }): Promise<ApprovalRequest> {
    return this.call(`approvals/v1/requests/${encodeURIComponent(id)}/${decision.approve ? 'approve' : 'reject'}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ comment: decision.comment }),
    });
  }

  /** A JSON call to a paved route (relative to the plugin's base URL). */
  private async call<T>(path: string, init: RequestInit = {}): Promise<T> {
    const base = await this.discoveryApi.getBaseUrl('paved');
    const res = await this.fetchApi.fetch(`${base}/${path}`, {
      ...init,
      headers: { Accept: 'application/json', ...(init.headers as Record<string, string>) },
    });
    if (!res.ok) throw await ResponseError.fromResponse(res);
    return (await res.json()) as T;
  }

  private async json<T>(endpoint: string, query: DevexQuery): Promise<T> {
    const res = await this.fetchApi.fetch(await this.url(endpoint, query), {
      headers: { Accept: 'application/json' },
    });
    if (!res.ok) throw await ResponseError.fromResponse(res);
    return (await res.json()) as T;
  }

  private async url(
    endpoint: string,
    query: DevexQuery,
    extra: Record<string, string> = {},
  ): Promise<string> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries({ ...query, ...extra })) {
      if (value) params.set(key, value);
    }
    const base = await this.discoveryApi.getBaseUrl('paved');
    const search = params.toString();
    return `${base}/devex/v1/${endpoint}${search ? `?${search}` : ''}`;
  }
}
