/**
 * The paved module for the Backstage scaffolder: paved's actions as classic
 * scaffolder actions that proxy to paved.
 *
 * @packageDocumentation
 */

export { scaffolderModulePaved as default } from './module';
export {
  createPavedActions,
  scaffolderActionId,
  redact,
} from './actions/pavedActions';
export type { PavedInvoker } from './actions/pavedActions';
export {
  PavedActionsClient,
  PavedActionError,
} from './actions/PavedActionsClient';
export type { PavedAction } from './actions/PavedActionsClient';
