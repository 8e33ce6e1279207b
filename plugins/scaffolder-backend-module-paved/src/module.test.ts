import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import {
  scaffolderActionsExtensionPoint,
  TemplateAction,
} from '@backstage/plugin-scaffolder-node';
import { FakePavedActions } from './actions/FakePavedActions';
import { scaffolderModulePaved } from './module';

describe('scaffolderModulePaved', () => {
  let paved: FakePavedActions;
  let baseUrl: string;

  beforeEach(async () => {
    paved = new FakePavedActions();
    baseUrl = await paved.start();
  });

  afterEach(() => paved.stop());

  async function start(config: object, url = baseUrl) {
    const registered: TemplateAction<any, any, any>[] = [];
    const logger = mockServices.logger.mock();
    await startTestBackend({
      extensionPoints: [
        [scaffolderActionsExtensionPoint, { addActions: (...a: any[]) => registered.push(...a) }],
      ],
      features: [
        scaffolderModulePaved,
        logger.factory,
        mockServices.discovery.mock({ getBaseUrl: async () => url }).factory,
        mockServices.rootConfig.factory({ data: config }),
      ],
    });
    return { ids: registered.map(a => a.id), logger };
  }

  it("registers paved's actions under paved's ids by default", async () => {
    const { ids } = await start({});
    expect(ids).toEqual(FakePavedActions.actions.map(a => a.id));
  });

  it('registers them under paved.actions.idPrefix when set', async () => {
    const { ids } = await start({ paved: { actions: { idPrefix: 'paved-proxy:' } } });
    expect(ids).toContain('paved-proxy:create-argocd-app');
    expect(ids.filter(id => id.startsWith('paved:'))).toEqual([]);
  });

  it('starts without actions, and says why, when paved is unreachable', async () => {
    await paved.stop();
    const { ids, logger } = await start({});
    expect(ids).toEqual([]);
    expect(logger.error).toHaveBeenCalledWith(
      expect.stringContaining("Could not list paved's actions"),
    );
  });
});
