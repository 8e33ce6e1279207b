import { JsonObject } from '@backstage/types';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { PavedAction } from './PavedActionsClient';

/**
 * A paved that speaks only the actions part of Backstage's plugin protocol,
 * on a loopback port, for tests. `create-argocd-app` answers with an output;
 * `fail` answers with paved's InputError body; `crash` with a proxy's HTML.
 */
export class FakePavedActions {
  readonly invocations: { url: string; authorization?: string; body: JsonObject }[] = [];
  listAuthorization?: string;
  private server?: Server;

  static readonly actions: PavedAction[] = [
    {
      id: 'paved:create-argocd-app',
      name: 'create-argocd-app',
      title: 'Create an Argo CD application',
      description: 'Creates an Argo CD application for a new service',
      pluginId: 'paved',
      attributes: { destructive: false, idempotent: true, readOnly: false },
      schema: {
        input: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, gitToken: { type: 'string' } },
        },
        output: {
          type: 'object',
          properties: { appName: { type: 'string' }, url: { type: 'string' } },
        },
      },
    },
    {
      id: 'paved:get-app',
      name: 'get-app',
      description: 'Reads an application',
      attributes: { destructive: false, idempotent: true, readOnly: true },
      schema: { input: { type: 'object' }, output: { type: 'object' } },
    },
    { id: 'paved:fail', name: 'fail', schema: { input: { type: 'object' } } },
    { id: 'paved:crash', name: 'crash' },
  ];

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/api/paved`;
  }

  async stop(): Promise<void> {
    await new Promise<void>(resolve => this.server?.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const path = req.url ?? '';
    if (req.method === 'GET' && path === '/api/paved/.backstage/actions/v1/actions') {
      this.listAuthorization = req.headers.authorization;
      json(res, 200, { actions: FakePavedActions.actions });
      return;
    }
    const invoke = /^\/api\/paved\/\.backstage\/actions\/v1\/actions\/([^/]+)\/invoke$/.exec(path);
    if (req.method !== 'POST' || !invoke) {
      json(res, 404, { error: { name: 'NotFoundError', message: `no route ${path}` } });
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonObject;
    this.invocations.push({ url: path, authorization: req.headers.authorization, body });
    switch (decodeURIComponent(invoke[1])) {
      case 'paved:create-argocd-app':
        json(res, 200, {
          output: { appName: `${body.name}`, url: `https://argocd.example/applications/${body.name}` },
        });
        return;
      case 'paved:fail':
        json(res, 400, {
          error: {
            name: 'InputError',
            message: 'invalid input',
            fields: [{ field: 'name', message: 'must match ^[a-z0-9-]+$' }],
          },
          request: { method: 'POST', url: path },
          response: { statusCode: 400 },
        });
        return;
      default:
        res.writeHead(502, { 'Content-Type': 'text/html' });
        res.end('<html><body>Bad Gateway</body></html>');
    }
  }
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
