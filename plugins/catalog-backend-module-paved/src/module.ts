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

// How long paved holds a long poll of catalog/changes without a change
// (paved caps it at 5m); proxies in between must allow that much.
const defaultChangesWait = '30s';

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
        lifecycle: coreServices.lifecycle,
        scheduler: coreServices.scheduler,
        discovery: coreServices.discovery,
        auth: coreServices.auth,
        catalog: catalogProcessingExtensionPoint,
      },
      async init({ config, logger, lifecycle, scheduler, discovery, auth, catalog }) {
        const client = new PavedCatalogClient(discovery, auth);
        const full = scheduler.createScheduledTaskRunner(
          schedule(config, 'paved.catalog.schedule', defaultFullSchedule),
        );
        // Changes: a long poll of paved's feed, unless a schedule is
        // configured (then polled on it, as before the long poll).
        if (config.has('paved.catalog.changesSchedule')) {
          const changes = scheduler.createScheduledTaskRunner(
            schedule(config, 'paved.catalog.changesSchedule', defaultFullSchedule),
          );
          catalog.addEntityProvider(new PavedEntityProvider(client, logger, { full, changes }));
          return;
        }
        const stop = new AbortController();
        lifecycle.addShutdownHook(() => stop.abort());
        const wait = config.getOptionalString('paved.catalog.changesWait') ?? defaultChangesWait;
        catalog.addEntityProvider(
          new PavedEntityProvider(client, logger, { full, watch: { wait, signal: stop.signal } }),
        );
      },
    });
  },
});
