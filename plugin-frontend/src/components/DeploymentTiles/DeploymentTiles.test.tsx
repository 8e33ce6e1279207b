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

  it('shows 24 services a page, the busiest first', async () => {
    const items = Array.from({ length: 30 }, (_, i) => ({
      service: `svc-${i}`, deployments: i + 1, failed: 0, deploymentDays: 10, perWeek: 2.5, tier: 'daily' as const,
    }));
    await renderInTestApp(<DeploymentTiles items={items} />);

    const tiles = screen.getAllByTestId(/^deployments-/);
    expect(tiles).toHaveLength(24);
    expect(tiles[0]).toHaveTextContent('svc-29');
    expect(screen.getByTestId('deployment-tiles-pagination')).toHaveTextContent('1-24 of 30');
  });
});
