import { createApiRef } from '@backstage/core-plugin-api';
import {
  CostReport,
  Coverage,
  DevexList,
  FeedbackComment,
  Freshness,
  RunFeedback,
  Satisfaction,
  Slos,
  DevexQuery,
  DoraReport,
  Funnel,
  ServiceDeployments,
  Summary,
  TemplateStats,
  Timeseries,
} from './types';
import { ApprovalRequest, ApprovalState, ConnectionDetails, EntityApp, EntityApps, InfraResource } from './entityTypes';

/**
 * paved's DevEx (adoption) API as the page uses it.
 *
 * @public
 */
export interface PavedDevexApi {
  /** The adoption figures of the query's period, each with the previous period's. */
  summary(query: DevexQuery): Promise<Summary>;
  /** Each template's runs, success rate and time saved. */
  templates(query: DevexQuery): Promise<{ items: TemplateStats[] }>;
  /** Runs and adoption per period, grouped by the query's `grouping`. */
  timeseries(query: DevexQuery): Promise<Timeseries>;
  /** Golden-path coverage per owner team. */
  coverage(query: DevexQuery): Promise<Coverage>;
  /** Each service's deployments and its Four Keys frequency tier. */
  deployments(query: DevexQuery): Promise<{ items: ServiceDeployments[] }>;
  /** How many runs reached each stage of the adoption funnel. */
  funnel(query: DevexQuery): Promise<Funnel>;
  /** Developers' ratings of their runs (devex readers). */
  satisfaction(query: DevexQuery): Promise<Satisfaction>;
  /** The latest comments (the platform team only). */
  feedbackComments(query: DevexQuery): Promise<{ items: FeedbackComment[] }>;
  /** The signed-in user's recent finished runs, with their answers. */
  myRuns(): Promise<{ items: RunFeedback[] }>;
  /** One of the signed-in user's runs. */
  myRun(taskId: string): Promise<RunFeedback>;
  /** Rates one of the signed-in user's runs (a new answer or a change). */
  rateRun(taskId: string, answer: { score: number; comment: string }): Promise<RunFeedback>;
  /** The service level objectives' states now: budget left and burn rates. */
  slos(): Promise<Slos>;
  /** Services on an outdated version of their template, now (owner and template apply, not the range). */
  freshness(query: DevexQuery): Promise<Freshness>;
  /** The four keys (DORA) overall and per service, team or template (`query.groupBy`). */
  dora(query: DevexQuery): Promise<DoraReport>;
  /** Infrastructure spend per team and kind, with budgets and a trend. */
  costs(query: DevexQuery): Promise<CostReport>;
  /** The `format=csv` URL of a list, for people and scripts that carry their own token. */
  csvUrl(list: DevexList, query: DevexQuery): Promise<string>;
  /** The list as CSV text, fetched with the signed-in user's credentials. */
  csv(list: DevexList, query: DevexQuery): Promise<string>;
}

/**
 * What paved made for a developer, as the entity cards and the resource page
 * use it, with the signed-in user's identity.
 *
 * @public
 */
export interface PavedResourcesApi {
  /** Resources paved provisioned, by owner and/or by the component using them. */
  resources(filter: { owner?: string; entityRef?: string }): Promise<{ items: InfraResource[] }>;
  /** One resource, with the caller's rights on it. */
  resource(id: string): Promise<InfraResource>;
  /** Moves the resource's expiry by `by` ("7d", "8h", "90m"). */
  extendResource(id: string, by: string): Promise<InfraResource>;
  /** Tears the resource down. */
  deleteResource(id: string): Promise<{ id: string; kind: string; name: string; deleted: boolean }>;
  /**
   * The credentials of a resource, for its owner: fetched with the user's
   * Backstage token each time, never cached by the browser.
   */
  connection(id: string): Promise<ConnectionDetails>;
  /** The Argo CD applications paved created for an entity, on every instance. */
  entityApps(entityRef: string): Promise<EntityApps>;
  /** Starts a sync of one of them; the app as Argo CD reports it right after. */
  syncApp(app: { instance: string; name: string; namespace?: string }): Promise<EntityApp>;
}

/**
 * Requests held for approval, and the approvers' decisions.
 *
 * @public
 */
export interface PavedApprovalsApi {
  /** Requests, newest first, optionally in one state. */
  approvals(state?: ApprovalState): Promise<{ items: ApprovalRequest[] }>;
  /** One request with its audit trail. */
  approval(id: string): Promise<ApprovalRequest>;
  /** Approves (and so provisions) or rejects a request, with a comment (required to reject). */
  decideApproval(id: string, decision: { approve: boolean; comment: string }): Promise<ApprovalRequest>;
}

/**
 * paved's API for the frontend: adoption metrics, and what paved made.
 *
 * @public
 */
export interface PavedApi extends PavedDevexApi, PavedResourcesApi, PavedApprovalsApi {}

/**
 * The reference to paved's API, to get it from the app's API holder.
 *
 * @public
 */
export const pavedApiRef = createApiRef<PavedApi>({ id: 'plugin.paved.api' });
