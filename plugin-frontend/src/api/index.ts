export { pavedApiRef } from './PavedApi';
export type { PavedApi, PavedApprovalsApi, PavedDevexApi, PavedResourcesApi } from './PavedApi';
export { PavedClient } from './PavedClient';
export * from './types';
export type * from './entityTypes';
export type { Narrow, Replace } from './narrow';

/**
 * The JSON paved answers with, generated from its Go types (`generated.ts`);
 * the types above name and narrow these shapes for the UI.
 */
import type * as PavedWire from './generated';
export type { PavedWire };
