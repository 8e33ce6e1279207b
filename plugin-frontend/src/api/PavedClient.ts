import { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import { PavedApi } from './PavedApi';
import {
  CostReport,
  Coverage,
  DevexList,
  FeedbackComment,
  RunFeedback,
  Satisfaction,
  DevexQuery,
  Funnel,
  ServiceDeployments,
  Summary,
  TemplateStats,
  Timeseries,
} from './types';

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

  summary(query: DevexQuery): Promise<Summary> {
    return this.json('summary', query);
  }

  templates(query: DevexQuery): Promise<{ items: TemplateStats[] }> {
    return this.json('templates', query);
  }

  timeseries(query: DevexQuery): Promise<Timeseries> {
    return this.json('timeseries', query);
  }

  coverage(query: DevexQuery): Promise<Coverage> {
    return this.json('coverage', query);
  }

  deployments(query: DevexQuery): Promise<{ items: ServiceDeployments[] }> {
    return this.json('deployments', query);
  }

  funnel(query: DevexQuery): Promise<Funnel> {
    return this.json('funnel', query);
  }

  satisfaction(query: DevexQuery): Promise<Satisfaction> {
    return this.json('satisfaction', query);
  }

  feedbackComments(query: DevexQuery): Promise<{ items: FeedbackComment[] }> {
    return this.json('feedback/comments', query);
  }

  myRuns(): Promise<{ items: RunFeedback[] }> {
    return this.json('feedback/runs', {});
  }

  myRun(taskId: string): Promise<RunFeedback> {
    return this.json(`feedback/runs/${encodeURIComponent(taskId)}`, {});
  }

  async rateRun(taskId: string, answer: { score: number; comment: string }): Promise<RunFeedback> {
    const res = await this.fetchApi.fetch(await this.url(`feedback/runs/${encodeURIComponent(taskId)}`, {}), {
      method: 'PUT',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: JSON.stringify(answer),
    });
    if (!res.ok) throw await ResponseError.fromResponse(res);
    return (await res.json()) as RunFeedback;
  }

  costs(query: DevexQuery): Promise<CostReport> {
    return this.json('costs', query);
  }

  csvUrl(list: DevexList, query: DevexQuery): Promise<string> {
    return this.url(list, query, { format: 'csv' });
  }

  async csv(list: DevexList, query: DevexQuery): Promise<string> {
    const res = await this.fetchApi.fetch(await this.csvUrl(list, query), {
      headers: { Accept: 'text/csv' },
    });
    if (!res.ok) throw await ResponseError.fromResponse(res);
    return res.text();
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
