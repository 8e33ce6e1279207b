import { renderInTestApp } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { DeploymentTiles } from './DeploymentTiles';

describe('DeploymentTiles', () => {
  it('bands each service by its Four Keys tier, best first, with the legend', async () => {
    await renderInTestApp(
      <DeploymentTiles
        items={[
          { service: 'batch', deployments: 2, failed: 0, deploymentDays: 2, perWeek: 0.5, tier: 'monthly' },
          { service: 'payments-api', deployments: 40, failed: 3, deploymentDays: 18, perWeek: 4.5, tier: 'daily' },
        ]}
      />,
    );

    const tiles = screen.getAllByTestId(/^deployments-/).map(t => t.getAttribute('data-testid'));
    expect(tiles).toEqual(['deployments-payments-api', 'deployments-batch']);
    expect(screen.getByTestId('deployments-payments-api')).toHaveTextContent(
      'payments-apiElite40 deploys · 4.5/week · 3 failed',
    );
    expect(screen.getByTestId('deployments-batch')).toHaveTextContent('Medium');
    expect(screen.getByText(/Elite: deploys on 3\+ days a week/)).toBeInTheDocument();
  });
});
