import { SchedulerServiceTaskScheduleDefinitionConfig } from '@backstage/backend-plugin-api';

export interface Config {
  paved?: {
    catalog?: {
      /**
       * When paved's full snapshot is applied to the catalog.
       * Defaults to every 30 minutes, and once at start.
       */
      schedule?: SchedulerServiceTaskScheduleDefinitionConfig;
      /**
       * When paved's changes endpoint is polled for delta mutations.
       * Defaults to every 30 seconds.
       */
      changesSchedule?: SchedulerServiceTaskScheduleDefinitionConfig;
    };
  };
}
