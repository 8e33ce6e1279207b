import {
  coreServices,
  createBackendModule,
  readSchedulerServiceTaskScheduleDefinitionFromConfig,
  RootConfigService,
  SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { catalogProcessingExtensionPoint } from '@backstage/plugin-catalog-node';
import { PavedCatalogClient } from './provider/PavedCatalogClient';
import { PavedEntityProvider } from './provider/PavedEntityProvider';

const defaultFullSchedule: SchedulerServiceTaskScheduleDefinition = {
  frequency: { minutes: 30 },
  timeout: { minutes: 10 },
};

const defaultChangesSchedule: SchedulerServiceTaskScheduleDefinition = {
  frequency: { seconds: 30 },
  timeout: { minutes: 5 },
};

function schedule(
  config: RootConfigService,
  key: string,
  fallback: SchedulerServiceTaskScheduleDefinition,
): SchedulerServiceTaskScheduleDefinition {
  return config.has(key)
    ? readSchedulerServiceTaskScheduleDefinitionFromConfig(config.getConfig(key))
    : fallback;
}

/**
 * Registers paved's entity provider with the catalog.
 *
 * @public
 */
export const catalogModulePaved = createBackendModule({
  pluginId: 'catalog',
  moduleId: 'paved',
  register(env) {
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        scheduler: coreServices.scheduler,
        discovery: coreServices.discovery,
        auth: coreServices.auth,
        catalog: catalogProcessingExtensionPoint,
      },
      async init({ config, logger, scheduler, discovery, auth, catalog }) {
        const client = new PavedCatalogClient(discovery, auth);
        catalog.addEntityProvider(
          new PavedEntityProvider(client, logger, {
            full: scheduler.createScheduledTaskRunner(
              schedule(config, 'paved.catalog.schedule', defaultFullSchedule),
            ),
            changes: scheduler.createScheduledTaskRunner(
              schedule(
                config,
                'paved.catalog.changesSchedule',
                defaultChangesSchedule,
              ),
            ),
          }),
        );
      },
    });
  },
});
