import { SchedulerService, ServiceFactory } from '@backstage/backend-plugin-api';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import {
  catalogProcessingExtensionPoint,
  EntityProvider,
  EntityProviderMutation,
} from '@backstage/plugin-catalog-node';
import { catalogModulePaved } from './module';
import { component, FakePavedCatalog, until } from './provider/FakePavedCatalog';

// mockServices.scheduler() returns a MockSchedulerService, typed only as the
// SchedulerService it implements; its factory is what installs it.
function mockScheduler() {
  return mockServices.scheduler() as SchedulerService & {
    factory(options?: { skipTaskRunOnStartup?: boolean }): ServiceFactory;
  };
}

describe('catalogModulePaved', () => {
  let paved: FakePavedCatalog;
  let baseUrl: string;

  beforeEach(async () => {
    paved = new FakePavedCatalog();
    baseUrl = await paved.start();
  });

  afterEach(() => paved.stop());

  it('registers a provider that applies paved snapshot and changes on its schedules, when a changes schedule is set', async () => {
    const providers: EntityProvider[] = [];
    const scheduler = mockScheduler();
    await startTestBackend({
      extensionPoints: [
        [
          catalogProcessingExtensionPoint,
          { addEntityProvider: (...p: any[]) => providers.push(...p.flat()) },
        ],
      ],
      features: [
        catalogModulePaved,
        scheduler.factory({ skipTaskRunOnStartup: true }),
        mockServices.discovery.mock({ getBaseUrl: async () => baseUrl }).factory,
        mockServices.rootConfig.factory({
          data: {
            paved: {
              catalog: {
                schedule: { frequency: { hours: 2 }, timeout: { minutes: 3 } },
                changesSchedule: { frequency: { seconds: 30 }, timeout: { minutes: 1 } },
              },
            },
          },
        }),
      ],
    });

    expect(providers.map(p => p.getProviderName())).toEqual(['paved']);
    const mutations: EntityProviderMutation[] = [];
    paved.put(component('a'));
    await providers[0].connect({
      applyMutation: async m => {
        mutations.push(m);
      },
      refresh: async () => {},
    });

    const tasks = await scheduler.getScheduledTasks();
    expect(tasks.map(t => t.id).sort()).toEqual(['paved:changes', 'paved:full']);

    await scheduler.triggerTask('paved:full');
    paved.put(component('b'));
    await scheduler.triggerTask('paved:changes');

    expect(mutations.map(m => m.type)).toEqual(['full', 'delta']);
  });

  it("follows paved's changes feed with long polls by default: a change is applied when paved records it", async () => {
    const providers: EntityProvider[] = [];
    const scheduler = mockScheduler();
    const backend = await startTestBackend({
      extensionPoints: [
        [
          catalogProcessingExtensionPoint,
          { addEntityProvider: (...p: any[]) => providers.push(...p.flat()) },
        ],
      ],
      features: [
        catalogModulePaved,
        scheduler.factory({ skipTaskRunOnStartup: true }),
        mockServices.discovery.mock({ getBaseUrl: async () => baseUrl }).factory,
        mockServices.rootConfig.factory({ data: { paved: { catalog: { changesWait: '20s' } } } }),
      ],
    });
    const mutations: EntityProviderMutation[] = [];
    const longPolls = () => paved.requests.filter(r => r.url.includes('wait=20s')).length;
    let longPollsAtDelta = -1;
    paved.put(component('a'));
    await providers[0].connect({
      applyMutation: async m => {
        mutations.push(m);
        if (m.type === 'delta') longPollsAtDelta = longPolls();
      },
      refresh: async () => {},
    });
    expect((await scheduler.getScheduledTasks()).map(t => t.id)).toEqual(['paved:full']);

    // The first poll has no cursor: a full snapshot; then the poll waits.
    await until(() => mutations.length === 1 && longPolls() === 1);
    paved.put(component('b'));
    await until(() => mutations.length === 2, 15000);
    expect(mutations.map(m => m.type)).toEqual(['full', 'delta']);
    expect((mutations[1] as Extract<EntityProviderMutation, { type: 'delta' }>).added.map(e => e.entity.metadata.name)).toEqual(['b']);
    // The held request brought the change: no second poll was needed.
    expect(longPollsAtDelta).toBe(1);
    await backend.stop();
  });

  it("logs paved's error message when a scheduled refresh fails", async () => {
    const providers: EntityProvider[] = [];
    const scheduler = mockScheduler();
    const logger = mockServices.logger.mock();
    await startTestBackend({
      extensionPoints: [
        [
          catalogProcessingExtensionPoint,
          { addEntityProvider: (...p: any[]) => providers.push(...p.flat()) },
        ],
      ],
      features: [
        catalogModulePaved,
        logger.factory,
        scheduler.factory({ skipTaskRunOnStartup: true }),
        mockServices.discovery.mock({ getBaseUrl: async () => baseUrl }).factory,
      ],
    });
    paved.failWith = { status: 401, name: 'AuthenticationError', message: 'unexpected aud' };
    await providers[0].connect({ applyMutation: async () => {}, refresh: async () => {} });

    await scheduler.triggerTask('paved:full');

    expect(logger.error).toHaveBeenCalledWith(
      expect.stringMatching(/full refresh failed: Request failed with 401.*: unexpected aud/),
    );
  });
});
