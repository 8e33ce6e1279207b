import { createApiRef } from '@backstage/core-plugin-api';
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
 * paved's DevEx (adoption) API as the page uses it.
 *
 * @public
 */
export interface PavedApi {
  summary(query: DevexQuery): Promise<Summary>;
  templates(query: DevexQuery): Promise<{ items: TemplateStats[] }>;
  timeseries(query: DevexQuery): Promise<Timeseries>;
  coverage(query: DevexQuery): Promise<Coverage>;
  deployments(query: DevexQuery): Promise<{ items: ServiceDeployments[] }>;
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
  /** Infrastructure spend per team and kind, with budgets and a trend. */
  costs(query: DevexQuery): Promise<CostReport>;
  /** The `format=csv` URL of a list, for people and scripts that carry their own token. */
  csvUrl(list: DevexList, query: DevexQuery): Promise<string>;
  /** The list as CSV text, fetched with the signed-in user's credentials. */
  csv(list: DevexList, query: DevexQuery): Promise<string>;
}

/** @public */
export const pavedApiRef = createApiRef<PavedApi>({ id: 'plugin.paved.api' });
