/**
 * paved's Backstage frontend plugin: the "Golden paths adoption" page, the
 * page of one provisioned resource, and the entity cards of what paved made.
 *
 * @packageDocumentation
 */

export { pavedPlugin, PavedAdoptionPage, EntityPavedAppCard, EntityPavedResourceCard } from './plugin';
export { isPavedResourceAvailable, ANNOTATION_INFRA_ID, ANNOTATION_COST_MONTHLY } from './annotations';
export { pavedApiRef, PavedClient } from './api';
export type * from './api';
