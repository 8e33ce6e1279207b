import { keyFigures } from './FourKeysPanel';

const keys = {
  deployments: 1, deploymentDays: 1, deploymentsPerDay: 0.0357, deploymentFrequencyTier: 'high' as const,
  leadTimeSeconds: 58, leadTimeP90Seconds: 58, leadTimeSamples: 1, leadTimeTier: 'elite' as const,
  changes: 1, failedChanges: 0, changeFailureRate: 0, changeFailureTier: 'elite' as const,
  timeToRestoreSeconds: 0, restored: 0, openIncidents: 0, timeToRestoreTier: 'none' as const,
};

const details = (k: typeof keys) => Object.fromEntries(keyFigures(k).map(f => [f.key, f.detail]));

describe('keyFigures', () => {
  it('writes one deploy, one day and one change in the singular, and no incident as such', () => {
    expect(details(keys)).toEqual({
      'Deployment frequency': '1 deploy on 1 day',
      'Lead time for changes': 'median of 1, p90 58 s',
      'Change failure rate': '0 of 1 change failed',
      'Time to restore': 'no incident',
    });
  });

  it('writes counts in the plural and the incidents still open', () => {
    const d = details({ ...keys, deployments: 12, deploymentDays: 9, changes: 13, failedChanges: 2, restored: 2, openIncidents: 1 });
    expect(d['Deployment frequency']).toBe('12 deploys on 9 days');
    expect(d['Change failure rate']).toBe('2 of 13 changes failed');
    expect(d['Time to restore']).toBe('median of 2 restored, 1 still Degraded');
    expect(details({ ...keys, openIncidents: 2 })['Time to restore']).toBe('2 Degraded, none restored yet');
  });
});
