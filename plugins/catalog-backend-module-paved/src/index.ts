/**
 * The paved module for the Backstage catalog: paved's entities (Argo CD
 * applications and provisioned infrastructure) as an entity provider.
 *
 * @packageDocumentation
 */

export { catalogModulePaved as default } from './module';
export { PavedEntityProvider } from './provider/PavedEntityProvider';
export type { PavedCatalogSource } from './provider/PavedEntityProvider';
export { PavedCatalogClient } from './provider/PavedCatalogClient';
export type {
  PavedEntity,
  EntitiesPage,
  Changes,
} from './provider/PavedCatalogClient';
