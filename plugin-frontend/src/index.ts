/**
 * paved's Backstage frontend plugin: the "Golden paths adoption" page.
 *
 * @packageDocumentation
 */

export { pavedPlugin, PavedAdoptionPage } from './plugin';
export { pavedApiRef, PavedClient } from './api';
export type * from './api';
