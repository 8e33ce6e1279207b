export { pavedApiRef } from './PavedApi';
export type { PavedApi } from './PavedApi';
export { PavedClient } from './PavedClient';
export * from './types';
