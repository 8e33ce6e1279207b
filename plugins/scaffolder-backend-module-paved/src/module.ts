import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import { PavedActionsClient } from './actions/PavedActionsClient';
import { createPavedActions } from './actions/pavedActions';

/**
 * Registers paved's actions as classic scaffolder actions that proxy to
 * paved. Unlike the actions registry path, a failure shows paved's own
 * error message in the task log, with step logs of what was sent and got.
 *
 * paved is asked for its actions once, at start: if it is unreachable then,
 * the backend still starts and the failure is logged, and the actions appear
 * after the next restart.
 *
 * @public
 */
export const scaffolderModulePaved = createBackendModule({
  pluginId: 'scaffolder',
  moduleId: 'paved',
  register(env) {
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        discovery: coreServices.discovery,
        auth: coreServices.auth,
        scaffolder: scaffolderActionsExtensionPoint,
      },
      async init({ config, logger, discovery, auth, scaffolder }) {
        const idPrefix = config.getOptionalString('paved.actions.idPrefix');
        const client = new PavedActionsClient(discovery, auth);
        let listed;
        try {
          listed = await client.list();
        } catch (error) {
          logger.error(
            `Could not list paved's actions; none are registered until the next start: ${error}`,
          );
          return;
        }
        const actions = createPavedActions(listed, client, { idPrefix });
        scaffolder.addActions(...actions);
        logger.info(
          `Registered paved's actions: ${actions.map(a => a.id).join(', ') || 'none'}`,
        );
      },
    });
  },
});
