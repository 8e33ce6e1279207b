import { TestApiProvider, renderInTestApp } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { PavedApi, pavedApiRef } from '../../api';
import { Router } from '../Router';

describe('the resource page (/paved/resources/:id)', () => {
  it("shows the resource named in the path, under paved's pages", async () => {
    const resource = jest.fn(async (id: string) => ({
      id,
      kind: 'postgresql',
      title: 'PostgreSQL database',
      name: 'orders',
      driver: 'postgres',
      owner: 'user:default/carol',
      createdBy: 'user:default/carol',
      parameters: {},
      status: 'ready',
      createdAt: '',
      updatedAt: '',
      hasConnection: true,
      canManage: false,
      canReadConnection: false,
    }));
    const api: Partial<PavedApi> = { resource };
    await renderInTestApp(
      <TestApiProvider apis={[[pavedApiRef, api]]}>
        <Router />
      </TestApiProvider>,
      { routeEntries: ['/resources/6f1c2a0e-0000-4000-8000-000000000001'] },
    );
    expect(await screen.findByTestId('paved-resource-status')).toHaveTextContent('ready');
    expect(screen.getByText('Provisioned resource')).toBeInTheDocument();
    expect(resource).toHaveBeenCalledWith('6f1c2a0e-0000-4000-8000-000000000001');
  });
});
