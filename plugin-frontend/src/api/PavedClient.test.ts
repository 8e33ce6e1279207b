/**
 * @jest-environment node
 */
import { ResponseError } from '@backstage/errors';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { PavedClient } from './PavedClient';

// A paved on a loopback port that answers the DevEx routes the way
// docs/api.md describes, and records what it was asked.
describe('PavedClient', () => {
  let server: Server;
  let requests: { url: string; authorization?: string }[];
  let client: PavedClient;

  beforeEach(async () => {
    requests = [];
    server = createServer((req, res) => {
      requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
      const url = new URL(req.url ?? '/', 'http://paved');
      if (url.searchParams.get('owner') === 'group:default/secret') {
        res.writeHead(403, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { name: 'NotAllowedError', message: 'not a member of platform-team' },
            response: { statusCode: 403 },
          }),
        );
        return;
      }
      if (url.searchParams.get('format') === 'csv') {
        res.writeHead(200, { 'Content-Type': 'text/csv' });
        res.end('templateRef,runs\ntemplate:default/service,3\n');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ items: [{ templateRef: 'template:default/service', runs: 3 }] }));
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new PavedClient({
      discoveryApi: { getBaseUrl: async id => `http://127.0.0.1:${port}/api/${id}` },
      // Backstage's fetch API adds the user's token; this stands in for it.
      fetchApi: {
        fetch: (input, init) =>
          fetch(input, {
            ...init,
            headers: { ...(init?.headers as object), Authorization: 'Bearer user-token' },
          }),
      },
    });
  });

  afterEach(() => new Promise<void>(resolve => server.close(() => resolve())));

  it('asks paved for a list with the filters that are set', async () => {
    const body = await client.templates({
      from: '2026-11-01',
      to: '2026-11-28',
      grouping: 'week',
      owner: 'group:default/payments',
      template: undefined,
    });

    expect(body.items[0].runs).toBe(3);
    expect(requests).toEqual([
      {
        url: '/api/paved/devex/v1/templates?from=2026-11-01&to=2026-11-28&grouping=week&owner=group%3Adefault%2Fpayments',
        authorization: 'Bearer user-token',
      },
    ]);
  });

  it('builds the CSV link and fetches the CSV with the user token', async () => {
    const url = await client.csvUrl('deployments', { owner: 'group:default/a' });
    expect(url).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/api\/paved\/devex\/v1\/deployments\?owner=group%3Adefault%2Fa&format=csv$/,
    );

    const csv = await client.csv('templates', {});
    expect(csv).toBe('templateRef,runs\ntemplate:default/service,3\n');
    expect(requests[0].authorization).toBe('Bearer user-token');
  });

  it("rejects with a ResponseError carrying paved's message", async () => {
    const failure = client.summary({ owner: 'group:default/secret' });
    await expect(failure).rejects.toBeInstanceOf(ResponseError);
    await expect(failure).rejects.toMatchObject({
      statusCode: 403,
      body: { error: { name: 'NotAllowedError', message: 'not a member of platform-team' } },
    });
  });
});
