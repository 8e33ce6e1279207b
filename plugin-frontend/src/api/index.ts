export { pavedApiRef } from './PavedApi';
export type { PavedApi, PavedApprovalsApi, PavedDevexApi, PavedResourcesApi } from './PavedApi';
export { PavedClient } from './PavedClient';
export * from './types';
export type * from './entityTypes';
