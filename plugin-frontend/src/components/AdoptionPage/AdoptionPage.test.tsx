import { TestApiProvider, renderInTestApp } from '@backstage/test-utils';
import { errorApiRef } from '@backstage/core-plugin-api';
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ResponseError } from '@backstage/errors';
import { DevexList, DevexQuery, PavedDevexApi, RunFeedback, pavedApiRef } from '../../api';
import { AdoptionContent, AdoptionPage } from './AdoptionPage';
import { kpiPending } from '../KpiCards/KpiCards';

const k = (value: number, previous: number) => ({ value, previous });

/** A PavedApi answering fixed data and recording what each endpoint was asked. */
class FakePaved implements PavedDevexApi {
  calls: { endpoint: string; query: DevexQuery }[] = [];
  failTemplates = false;
  forbidden = false;
  commentsForbidden = false;
  /** When set, the summary answers once it settles (the others at once). */
  summaryAnswers?: Promise<void>;

  private record(endpoint: string, query: DevexQuery) {
    this.calls.push({ endpoint, query });
  }

  async summary(query: DevexQuery) {
    this.record('summary', query);
    await this.summaryAnswers;
    if (this.forbidden) throw await ResponseError.fromResponse(forbiddenResponse());
    const runs = query.owner ? 7 : 120;
    return {
      from: query.from!,
      to: query.to!,
      previousFrom: '',
      previousTo: '',
      kpis: {
        runsStarted: k(runs, 100),
        runsSucceeded: k(110, 90),
        runsFailed: k(10, 10),
        successRate: k(0.92, 0.9),
        activeUsers: k(33, 30),
        timeSavedSeconds: k(7200, 3600),
        coverage: k(0.6, 0.5),
        medianTimeToHealthySeconds: k(300, 600),
        deployments: k(50, 40),
      },
    };
  }
  async templates(query: DevexQuery) {
    this.record('templates', query);
    if (this.failTemplates) throw new Error('paved said no: not a member of platform-team');
    return {
      items: [
        {
          templateRef: 'template:default/go-service',
          runs: 120,
          succeeded: 110,
          failed: 10,
          cancelled: 0,
          successRate: 0.92,
          p50DurationSeconds: 60,
          p95DurationSeconds: 300,
          uniqueUsers: 33,
          timeSavedSeconds: 7200,
        },
      ],
    };
  }
  async timeseries(query: DevexQuery) {
    this.record('timeseries', query);
    return {
      grouping: query.grouping ?? 'day',
      items: [{ period: '2026-11-27', runsStarted: 5, runsSucceeded: 4, runsFailed: 1, runsCancelled: 0, activeUsers: 3, timeSavedSeconds: 0 }],
    };
  }
  async coverage(query: DevexQuery) {
    this.record('coverage', query);
    return {
      overall: { components: 10, fromTemplate: 6, ratio: 0.6 },
      items: [
        { owner: 'group:default/payments', components: 5, fromTemplate: 4, ratio: 0.8 },
        { owner: 'group:default/search', components: 5, fromTemplate: 2, ratio: 0.4 },
      ],
    };
  }
  async deployments(query: DevexQuery) {
    this.record('deployments', query);
    return {
      items: [{ service: 'payments-api', deployments: 30, failed: 1, deploymentDays: 15, perWeek: 3.8, tier: 'daily' as const }],
    };
  }
  async funnel(query: DevexQuery) {
    this.record('funnel', query);
    return {
      stages: [
        { name: 'started' as const, count: 120 },
        { name: 'succeeded' as const, count: 110 },
        { name: 'registered' as const, count: 100 },
        { name: 'healthy' as const, count: 80 },
      ],
    };
  }
  async satisfaction(query: DevexQuery) {
    this.record('satisfaction', query);
    return {
      overall: { score: 3.5, responses: 4, distribution: [1, 0, 1, 1, 1] as [number, number, number, number, number], previousScore: 3, previousResponses: 2 },
      items: [
        { templateRef: 'template:default/go-service', score: 3.5, responses: 4, distribution: [1, 0, 1, 1, 1] as [number, number, number, number, number], previousScore: 3, previousResponses: 2 },
      ],
      trend: [{ period: '2026-11-27', score: 3.5, responses: 4 }],
      stages: [
        { stage: 'started' as const, score: 1, responses: 1 },
        { stage: 'healthy' as const, score: 4.3333, responses: 3 },
      ],
      worstStage: 'started' as const,
    };
  }
  async slos() {
    this.record('slos', {});
    return {
      alerts: [{ severity: 'page' as const, long: '1h' as const, short: '5m' as const, factor: 14.4 }],
      items: [
        {
          name: 'run-success', sli: 'runSuccess' as const, objective: 0.95, windowSeconds: 2592000, current: 0.9, good: 90, total: 100,
          budgetRemaining: -1, burnRates: { '5m': 0, '30m': 0, '1h': 0, '2h': 0, '6h': 0, '1d': 2, '3d': 2 }, alert: '' as const,
        },
      ],
    };
  }
  async freshness(query: DevexQuery) {
    this.record('freshness', query);
    return {
      services: 4,
      outdated: 1,
      templates: [{ templateRef: 'template:default/db', currentVersion: '2.0.0', services: 4, outdated: 1, maxVersionsBehind: 1, maxDaysBehind: 3 }],
      teams: [{ owner: 'group:default/payments', services: 4, outdated: 1, maxVersionsBehind: 1, maxDaysBehind: 3 }],
      laggards: [
        { service: 'component:default/ledger', templateRef: 'template:default/db', owner: 'group:default/payments', version: '1.0.0',
          currentVersion: '2.0.0', outdated: true, versionsBehind: 1, daysBehind: 3, createdAt: '2026-11-01T10:00:00Z' },
      ],
      laggardsTotal: 1,
    };
  }
  async feedbackComments(query: DevexQuery) {
    this.record('feedbackComments', query);
    if (this.forbidden || this.commentsForbidden) throw await ResponseError.fromResponse(forbiddenResponse());
    return {
      items: [{ taskId: 't1', templateRef: 'template:default/go-service', score: 1, comment: 'the database step timed out', createdAt: '2026-11-27T10:00:00Z', updatedAt: '2026-11-27T10:00:00Z' }],
    };
  }
  rated: { taskId: string; score: number; comment: string }[] = [];
  async myRuns() {
    return {
      items: [
        { taskId: 'mine-1', templateRef: 'template:default/go-service', status: 'completed', createdAt: '2026-11-27T10:00:00Z', feedback: null, editable: true },
      ],
    };
  }
  async myRun(taskId: string): Promise<RunFeedback> {
    if (taskId === 'not-mine') {
      throw await ResponseError.fromResponse(
        new Response(JSON.stringify({ error: { name: 'NotAllowedError', message: 'user:default/dave did not start run "not-mine"' }, response: { statusCode: 403 } }), {
          status: 403,
          headers: { 'Content-Type': 'application/json' },
        }),
      );
    }
    return { taskId, templateRef: 'template:default/db', status: 'failed', createdAt: '2026-11-28T09:00:00Z', feedback: null, editable: true };
  }
  async rateRun(taskId: string, answer: { score: number; comment: string }): Promise<RunFeedback> {
    this.rated.push({ taskId, ...answer });
    return {
      taskId, templateRef: 'template:default/go-service', status: 'completed', createdAt: '2026-11-27T10:00:00Z',
      feedback: { ...answer, createdAt: '2026-11-28T12:00:00Z', updatedAt: '2026-11-28T12:00:00Z' },
      editable: true, editableUntil: '2026-12-05T12:00:00Z',
    };
  }

  async costs(query: DevexQuery) {
    this.record('costs', query);
    return {
      from: query.from ?? '',
      to: query.to ?? '',
      currency: 'USD',
      total: { monthly: 480, resources: 1, spend: 96 },
      teams: [{ team: 'group:default/payments', monthly: 480, resources: 1, spend: 96, budget: 1000 }],
      kinds: [{ team: 'group:default/payments', kind: 'postgresql', monthly: 480, resources: 1, spend: 96 }],
      timeseries: [{ period: '2026-11-27', spend: 96 }],
    };
  }
  async dora(query: DevexQuery) {
    this.record('dora', query);
    const groupBy = query.groupBy ?? 'service';
    const keys = (group?: string) => ({
      group, deployments: 30, deploymentDays: 20, deploymentsPerDay: 1.0714, deploymentFrequencyTier: 'elite' as const,
      leadTimeSeconds: 5400, leadTimeP90Seconds: 86400, leadTimeSamples: 28, leadTimeTier: 'high' as const,
      changes: 32, failedChanges: 4, changeFailureRate: 0.125, changeFailureTier: 'elite' as const,
      timeToRestoreSeconds: 1800, restored: 3, openIncidents: 1, timeToRestoreTier: 'elite' as const,
    });
    const group = { service: 'component:default/payments-api', team: 'group:default/payments', template: 'template:default/go-service' }[groupBy];
    return { from: query.from ?? '', to: query.to ?? '', groupBy, overall: keys(), items: [keys(group)] };
  }
  async csvUrl(list: DevexList, query: DevexQuery) {
    return `http://paved.test/api/paved/devex/v1/${list}?from=${query.from}&format=csv`;
  }
  async csv(list: DevexList, query: DevexQuery) {
    this.record(`csv:${list}`, query);
    return 'templateRef,runs\n';
  }
}

const today = new Date('2026-11-28T12:00:00Z');

/** paved's answer to a user outside the reader groups, as its server writes it. */
function forbiddenResponse() {
  const body = {
    error: { name: 'NotAllowedError', message: 'user:default/dave is not a member of a group allowed to read adoption metrics' },
    request: { method: 'GET', url: '/api/paved/devex/v1/summary' },
    response: { statusCode: 403 },
  };
  return new Response(JSON.stringify(body), { status: 403, statusText: 'Forbidden', headers: { 'Content-Type': 'application/json' } });
}


function render(paved: FakePaved, route?: string) {
  return renderInTestApp(
    <TestApiProvider apis={[[pavedApiRef, paved], [errorApiRef, { post: jest.fn(), error$: jest.fn() }]]}>
      <AdoptionContent today={today} />
    </TestApiProvider>,
    route ? { routeEntries: [route] } : undefined,
  );
}

describe('AdoptionContent', () => {
  it('shows every section for the last 28 days', async () => {
    const paved = new FakePaved();
    await render(paved);

    await waitFor(() => expect(screen.getByTestId('kpi-runsStarted')).toHaveTextContent('120'));
    expect(await screen.findByRole('img', { name: 'Template runs per day' })).toBeInTheDocument();
    expect(await screen.findByTestId('funnel-healthy')).toHaveTextContent('80 (80%)');
    expect(await screen.findByTestId('cost-team-payments')).toHaveTextContent('480 USD96 USD1,000 USD (48% used)');
    expect(await screen.findAllByTestId('coverage-row')).toHaveLength(2);
    // In the templates table, the satisfaction table and the feedback prompt.
    expect(await screen.findAllByText('go-service')).toHaveLength(3);
    expect(await screen.findByTestId('deployments-payments-api')).toHaveTextContent('Elite');
    expect(await screen.findByTestId('slo-run-success-status')).toHaveTextContent('Budget spent');
    expect(screen.getByTestId('slo-run-success-current')).toHaveTextContent('90%');
    expect(await screen.findByTestId('freshness-laggard-ledger')).toHaveTextContent('1.0.0 → 2.0.0');
    expect(await screen.findByTestId('dora-overall-Lead time for changes')).toHaveTextContent('1.5 hHigh');
    expect(screen.getByTestId('dora-overall-Change failure rate')).toHaveTextContent('12.5%Elite4 of 32 changes failed');
    expect(screen.getByTestId('dora-overall-Time to restore')).toHaveTextContent('30 min');
    expect(screen.getByTestId('dora-overall-Time to restore')).toHaveTextContent('1 still Degraded');
    expect(screen.getByTestId('dora-row-component:default/payments-api')).toHaveTextContent('1.07/day · Elite');
    // Freshness is now: no range.
    expect(paved.calls.find(c => c.endpoint === 'freshness')?.query).toEqual({ owner: undefined });

    const summaryCall = paved.calls.find(c => c.endpoint === 'summary');
    expect(summaryCall?.query).toEqual({ from: '2026-11-01', to: '2026-11-28', grouping: 'day', owner: undefined });
  });

  it('shows the four keys per team when asked', async () => {
    const paved = new FakePaved();
    await render(paved);
    fireEvent.change(await screen.findByTestId('dora-group-by'), { target: { value: 'team' } });
    expect(await screen.findByTestId('dora-row-group:default/payments')).toHaveTextContent('group:default/payments');
    expect(paved.calls.filter(c => c.endpoint === 'dora').map(c => c.query.groupBy)).toEqual(['service', 'team']);
  });

  it('asks again for one team when a team is picked, and keeps coverage for all teams', async () => {
    const paved = new FakePaved();
    await render(paved);
    await screen.findByRole('option', { name: 'payments' });

    fireEvent.change(screen.getByLabelText('Team'), { target: { value: 'group:default/payments' } });

    await waitFor(() => expect(screen.getByTestId('kpi-runsStarted')).toHaveTextContent('7'));
    const owners = paved.calls.filter(c => c.endpoint !== 'coverage').map(c => c.query.owner);
    expect(owners).toContain('group:default/payments');
    expect(paved.calls.filter(c => c.endpoint === 'coverage').every(c => c.query.owner === undefined)).toBe(true);
  });

  it('groups by week and takes a custom date range', async () => {
    const paved = new FakePaved();
    await render(paved);
    await waitFor(() => expect(screen.getByTestId('kpi-runsStarted')).toHaveTextContent('120'));

    fireEvent.change(screen.getByLabelText('Group by'), { target: { value: 'week' } });
    fireEvent.change(screen.getByLabelText('Date range'), { target: { value: 'custom' } });
    fireEvent.change(screen.getByLabelText('From'), { target: { value: '2026-09-01' } });

    await waitFor(() =>
      expect(paved.calls.at(-1)?.query).toMatchObject({ from: '2026-09-01', to: '2026-11-28' }),
    );
    expect(paved.calls.filter(c => c.endpoint === 'timeseries').at(-1)?.query.grouping).toBe('week');
  });

  it('asks for the other panels once the KPI cards are shown', async () => {
    const paved = new FakePaved();
    let answer = () => {};
    paved.summaryAnswers = new Promise(resolve => {
      answer = resolve;
    });
    await render(paved);
    await waitFor(() => expect(paved.calls.map(c => c.endpoint)).toContain('summary'));
    await act(() => new Promise(resolve => setTimeout(resolve, 0)));
    // Until the summary answers, no other panel asks paved: each shows its progress.
    expect(paved.calls.map(c => c.endpoint).filter(e => e !== 'summary')).toEqual([]);
    expect(screen.queryByRole('table', { name: 'Template runs per template' })).not.toBeInTheDocument();
    expect(screen.getAllByTestId('progress').length).toBeGreaterThanOrEqual(11);
    expect(screen.getByTestId('kpi-runsStarted')).toHaveTextContent(kpiPending);

    answer();
    await waitFor(() => expect(screen.getByTestId('kpi-runsStarted')).toHaveTextContent('120'));
    expect(await screen.findByRole('table', { name: 'Template runs per template' })).toBeInTheDocument();
    expect(await screen.findByTestId('deployments-payments-api')).toHaveTextContent('Elite');
    expect(await screen.findByTestId('slo-run-success-status')).toHaveTextContent('Budget spent');
    expect(screen.queryAllByTestId('progress')).toHaveLength(0);
    expect(paved.calls.map(c => c.endpoint)).toEqual(expect.arrayContaining(['templates', 'deployments', 'dora', 'slos', 'coverage', 'feedbackComments']));
  });

  it('asks for the other panels when the summary is slow', async () => {
    jest.useFakeTimers({ advanceTimers: true });
    try {
      const paved = new FakePaved();
      paved.summaryAnswers = new Promise(() => {});
      await render(paved);
      await waitFor(() => expect(paved.calls.map(c => c.endpoint)).toContain('summary'));
      expect(paved.calls.map(c => c.endpoint)).not.toContain('templates');
      act(() => {
        jest.advanceTimersByTime(2000);
      });
      expect(await screen.findByRole('table', { name: 'Template runs per template' })).toBeInTheDocument();
      expect(screen.getByTestId('kpi-runsStarted')).toHaveTextContent(kpiPending);
    } finally {
      jest.useRealTimers();
    }
  });

  it('shows the other panels when the summary fails', async () => {
    const paved = new FakePaved();
    paved.summaryAnswers = Promise.reject(new Error('paved is restarting'));
    paved.summaryAnswers.catch(() => {});
    await render(paved);

    expect((await screen.findAllByText(/paved is restarting/))[0]).toBeInTheDocument();
    expect(await screen.findByRole('table', { name: 'Template runs per template' })).toBeInTheDocument();
    expect(screen.queryByTestId('kpi-runsStarted')).not.toBeInTheDocument();
  });

  it('shows a failing section as an error and the others as usual', async () => {
    const paved = new FakePaved();
    paved.failTemplates = true;
    await render(paved);

    expect((await screen.findAllByText(/not a member of platform-team/))[0]).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('kpi-runsStarted')).toHaveTextContent('120'));
  });

  it('tells a refused user once, with paved\'s reason, instead of failing every section', async () => {
    const paved = new FakePaved();
    paved.forbidden = true;
    await render(paved);

    expect(await screen.findByTestId('paved-access-refused')).toHaveTextContent(
      'user:default/dave is not a member of a group allowed to read adoption metrics',
    );
    expect(screen.getByText(/You cannot see adoption metrics/)).toBeInTheDocument();
    expect(screen.queryByText(/Request failed with 403/)).not.toBeInTheDocument();
    expect(screen.queryByTestId('kpi-runsStarted')).not.toBeInTheDocument();
  });

  it('links each list as CSV and downloads it with the user credentials', async () => {
    const paved = new FakePaved();
    const createObjectURL = jest.fn((_: Blob) => 'blob:csv');
    // jsdom cannot follow a download; record which file would have been saved.
    const saved: string[] = [];
    jest.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function click(this: HTMLAnchorElement) {
      saved.push(this.download);
    });
    Object.assign(URL, { createObjectURL, revokeObjectURL: jest.fn() });
    await render(paved);

    const link = await screen.findByRole('link', { name: 'Export templates as CSV' });
    await waitFor(() =>
      expect(link).toHaveAttribute('href', 'http://paved.test/api/paved/devex/v1/templates?from=2026-11-01&format=csv'),
    );
    await userEvent.click(link);

    await waitFor(() => expect(saved).toEqual(['paved-templates-2026-11-01-2026-11-28.csv']));
    expect(await createObjectURL.mock.calls[0][0].text()).toBe('templateRef,runs\n');
    expect(paved.calls.find(c => c.endpoint === 'csv:templates')?.query.owner).toBeUndefined();
  });
});

describe('Developer feedback', () => {
  it('shows satisfaction per template, the worst stage and the comments', async () => {
    const paved = new FakePaved();
    await render(paved);

    expect(await screen.findByTestId('satisfaction-overall')).toHaveTextContent('3.5 / 5');
    expect(screen.getByTestId('satisfaction-go-service')).toHaveTextContent('go-service3.5 / 54');
    expect(screen.getByTestId('satisfaction-worst-stage')).toHaveTextContent('Lowest rated: runs that failed');
    expect(await screen.findByTestId('feedback-comment')).toHaveTextContent('the database step timed out');
  });

  it('tells a developer outside the platform team that comments are not for them', async () => {
    const paved = new FakePaved();
    paved.commentsForbidden = true;
    await render(paved);
    expect(await screen.findByTestId('feedback-comments-refused')).toHaveTextContent('platform team only');
    expect(screen.queryByText(/database step timed out/)).not.toBeInTheDocument();
  });

  it('prompts for the run of the template link first, then sends the rating', async () => {
    const paved = new FakePaved();
    await render(paved, '/?feedback=linked-1');

    const linked = await screen.findByTestId('feedback-run-linked-1');
    expect(screen.getAllByTestId(/^feedback-run-/).map(e => e.dataset.testid)).toEqual(['feedback-run-linked-1', 'feedback-run-mine-1']);
    fireEvent.click(within(linked).getByLabelText('2'));
    fireEvent.change(within(linked).getByLabelText('Why, for db'), { target: { value: 'the database step timed out' } });
    fireEvent.click(within(linked).getByRole('button', { name: 'Send' }));

    await waitFor(() => expect(paved.rated).toEqual([{ taskId: 'linked-1', score: 2, comment: 'the database step timed out' }]));
    expect(await within(linked).findByTestId('feedback-saved')).toHaveTextContent('until 2026-12-05');
  });

  it("shows paved's refusal for another's run, and the prompt even to a user who cannot read metrics", async () => {
    const paved = new FakePaved();
    paved.forbidden = true;
    await render(paved, '/?feedback=not-mine');

    expect(await screen.findByTestId('feedback-focus-error')).toHaveTextContent('did not start run "not-mine"');
    expect(screen.getByTestId('feedback-run-mine-1')).toBeInTheDocument();
    expect(screen.getByTestId('paved-access-refused')).toBeInTheDocument();
  });
});

describe('AdoptionPage', () => {
  it('frames the content with the page header', async () => {
    await renderInTestApp(
      <TestApiProvider apis={[[pavedApiRef, new FakePaved()]]}>
        <AdoptionPage />
      </TestApiProvider>,
    );
    expect(screen.getAllByText('Golden paths adoption').length).toBeGreaterThan(0);
    await waitFor(() => expect(screen.getByTestId('kpi-runsStarted')).toHaveTextContent('120'));
  });
});
