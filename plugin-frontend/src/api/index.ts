export { pavedApiRef } from './PavedApi';
export type { PavedApi, PavedDevexApi, PavedResourcesApi } from './PavedApi';
export { PavedClient } from './PavedClient';
export * from './types';
export type * from './entityTypes';
