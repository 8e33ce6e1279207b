import { renderInTestApp } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { Funnel } from './Funnel';

describe('Funnel', () => {
  it('shows each stage with its conversion from the stage before', async () => {
    await renderInTestApp(
      <Funnel
        funnel={{
          stages: [
            { name: 'started', count: 200 },
            { name: 'succeeded', count: 180 },
            { name: 'registered', count: 171 },
            { name: 'healthy', count: 90 },
          ],
        }}
      />,
    );

    expect(screen.getByTestId('funnel-started')).toHaveTextContent('Run started200');
    expect(screen.getByTestId('funnel-succeeded')).toHaveTextContent('180 (90%)');
    expect(screen.getByTestId('funnel-registered')).toHaveTextContent('In the catalog171 (95%)');
    expect(screen.getByTestId('funnel-healthy')).toHaveTextContent('First healthy deploy90 (53%)');
  });
});
