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
       * How long one long poll of paved's changes feed waits for a change
       * (a duration paved reads, e.g. "30s"; paved caps it at 5m). The
       * default: 30s. A change reaches the catalog as soon as paved records it.
       */
      changesWait?: string;
      /**
       * Poll paved's changes endpoint on this schedule instead of the long
       * poll (e.g. where a proxy cuts held requests).
       */
      changesSchedule?: SchedulerServiceTaskScheduleDefinitionConfig;
    };
  };
}
