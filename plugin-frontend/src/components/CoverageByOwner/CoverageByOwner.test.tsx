import { renderInTestApp } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { CoverageByOwner } from './CoverageByOwner';

describe('CoverageByOwner', () => {
  it('lists owners with the least coverage first', async () => {
    await renderInTestApp(
      <CoverageByOwner
        coverage={{
          overall: { components: 30, fromTemplate: 18, ratio: 0.6 },
          items: [
            { owner: 'group:default/payments', components: 10, fromTemplate: 9, ratio: 0.9 },
            { owner: 'group:default/search', components: 20, fromTemplate: 9, ratio: 0.45 },
          ],
        }}
      />,
    );

    expect(screen.getByTestId('coverage-overall')).toHaveTextContent(
      'Overall: 60% (18 of 30 components from a template)',
    );
    const rows = screen.getAllByTestId('coverage-row').map(r => r.textContent);
    expect(rows).toEqual(['search45% · 9/20', 'payments90% · 9/10']);
  });
});
