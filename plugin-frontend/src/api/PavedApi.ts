import { createApiRef } from '@backstage/core-plugin-api';
import {
  Coverage,
  DevexList,
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
  /** The `format=csv` URL of a list, for people and scripts that carry their own token. */
  csvUrl(list: DevexList, query: DevexQuery): Promise<string>;
  /** The list as CSV text, fetched with the signed-in user's credentials. */
  csv(list: DevexList, query: DevexQuery): Promise<string>;
}

/** @public */
export const pavedApiRef = createApiRef<PavedApi>({ id: 'plugin.paved.api' });
