import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { ActionContext } from '@backstage/plugin-scaffolder-node';
import { JsonObject, JsonValue } from '@backstage/types';
import { FakePavedActions } from './FakePavedActions';
import { PavedActionsClient } from './PavedActionsClient';
import { createPavedActions, redact } from './pavedActions';

function actionContext(input: JsonObject) {
  const outputs: Record<string, JsonValue> = {};
  const logger = mockServices.logger.mock();
  const ctx = {
    input,
    logger,
    output: (key: string, value: JsonValue) => {
      outputs[key] = value;
    },
    getInitiatorCredentials: async () => mockCredentials.user('user:default/jane'),
    task: { id: 'task-1' },
    workspacePath: '/nonexistent',
  } as unknown as ActionContext<JsonObject, JsonObject, 'v2'>;
  const logged = () => logger.info.mock.calls.map(c => String(c[0])).join('\n');
  return { ctx, outputs, logged };
}

describe('paved proxy actions', () => {
  let paved: FakePavedActions;
  let client: PavedActionsClient;

  beforeEach(async () => {
    paved = new FakePavedActions();
    const baseUrl = await paved.start();
    client = new PavedActionsClient(
      mockServices.discovery.mock({ getBaseUrl: async () => baseUrl }),
      mockServices.auth({ pluginId: 'scaffolder' }),
    );
  });

  afterEach(() => paved.stop());

  const byId = async (id: string, idPrefix?: string) => {
    const actions = createPavedActions(await client.list(), client, { idPrefix });
    const action = actions.find(a => a.id === id);
    if (!action) throw new Error(`no action ${id} in ${actions.map(a => a.id)}`);
    return action;
  };

  it('registers every listed action with its id and JSON Schemas', async () => {
    const actions = createPavedActions(await client.list(), client);

    expect(actions.map(a => a.id)).toEqual([
      'paved:create-argocd-app',
      'paved:get-app',
      'paved:fail',
      'paved:crash',
    ]);
    expect(actions[0].schema).toEqual(FakePavedActions.actions[0].schema);
    expect(actions[0].description).toBe('Creates an Argo CD application for a new service');
    expect(actions.map(a => a.supportsDryRun)).toEqual([false, true, false, false]);
    expect(paved.listAuthorization).toBe(
      `Bearer ${mockCredentials.service.token({
        onBehalfOf: mockCredentials.service('plugin:scaffolder'),
        targetPluginId: 'paved',
      })}`,
    );
  });

  it('renames actions with the configured prefix', async () => {
    const actions = createPavedActions(await client.list(), client, {
      idPrefix: 'paved-proxy:',
    });
    expect(actions.map(a => a.id)).toEqual([
      'paved-proxy:create-argocd-app',
      'paved-proxy:get-app',
      'paved-proxy:fail',
      'paved-proxy:crash',
    ]);
  });

  it('invokes paved on behalf of the task initiator and sets every output', async () => {
    const action = await byId('paved-proxy:create-argocd-app', 'paved-proxy:');
    const { ctx, outputs, logged } = actionContext({ name: 'shop', gitToken: 's3cr3t-value' });

    await action.handler(ctx);

    expect(paved.invocations).toHaveLength(1);
    const [call] = paved.invocations;
    expect(call.url).toBe(
      '/api/paved/.backstage/actions/v1/actions/paved%3Acreate-argocd-app/invoke',
    );
    expect(call.body).toEqual({ name: 'shop', gitToken: 's3cr3t-value' });
    expect(call.authorization).toBe(
      `Bearer ${mockCredentials.service.token({
        onBehalfOf: mockCredentials.user('user:default/jane'),
        targetPluginId: 'paved',
      })}`,
    );
    expect(outputs).toEqual({
      appName: 'shop',
      url: 'https://argocd.example/applications/shop',
    });
    expect(logged()).toContain('"name":"shop"');
    expect(logged()).toContain('https://argocd.example/applications/shop');
    expect(logged()).not.toContain('s3cr3t-value');
  });

  it("fails with paved's error message and fields", async () => {
    const action = await byId('paved:fail');
    const { ctx, outputs } = actionContext({ name: 'Not Valid' });

    await expect(action.handler(ctx)).rejects.toThrow(
      'paved action paved:fail failed (400 InputError): invalid input [name: must match ^[a-z0-9-]+$]',
    );
    expect(outputs).toEqual({});
  });

  it('fails with the status and a bit of the body when the answer is not paved JSON', async () => {
    const action = await byId('paved:crash');
    const { ctx } = actionContext({});

    await expect(action.handler(ctx)).rejects.toThrow(
      /paved action paved:crash failed \(502 Bad Gateway\): <html><body>Bad Gateway/,
    );
  });
});

describe('redact', () => {
  it('masks secret-looking keys at any depth and keeps the rest', () => {
    expect(
      redact({
        name: 'shop',
        nested: { password: 'p', list: [{ apiKey: 'k', region: 'eu' }] },
        authorization: 'Bearer x',
      }),
    ).toEqual({
      name: 'shop',
      nested: { password: '***', list: [{ apiKey: '***', region: 'eu' }] },
      authorization: '***',
    });
  });
});
