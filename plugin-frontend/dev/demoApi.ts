import { PavedApi } from '../src/api';
import { DevexList, DevexQuery, Period, RunFeedback } from '../src/api/types';
import { ApprovalRequest, EntityApp, InfraResource } from '../src/api/entityTypes';

/**
 * Made-up adoption data, so the page can be worked on without a paved: the
 * dev app uses it unless `?paved=live` is in the URL.
 */
export class DemoPavedApi implements PavedApi {
  async summary(query: DevexQuery) {
    const k = (value: number, previous: number) => ({ value, previous });
    return {
      from: query.from ?? '',
      to: query.to ?? '',
      previousFrom: '',
      previousTo: '',
      kpis: {
        runsStarted: k(412, 350),
        runsSucceeded: k(371, 301),
        runsFailed: k(29, 38),
        successRate: k(0.927, 0.888),
        activeUsers: k(57, 49),
        timeSavedSeconds: k(412 * 4 * 3600, 350 * 4 * 3600),
        coverage: k(0.62, 0.58),
        medianTimeToHealthySeconds: k(840, 1260),
        deployments: k(930, 802),
      },
    };
  }

  async templates() {
    const row = (name: string, runs: number, rate: number, p50: number, users: number) => ({
      templateRef: `template:default/${name}`,
      runs,
      succeeded: Math.round(runs * rate),
      failed: runs - Math.round(runs * rate),
      cancelled: 0,
      successRate: rate,
      p50DurationSeconds: p50,
      p95DurationSeconds: p50 * 3,
      uniqueUsers: users,
      timeSavedSeconds: runs * 4 * 3600,
    });
    return {
      items: [
        row('go-service', 180, 0.95, 95, 31),
        row('react-app', 121, 0.91, 140, 22),
        row('postgres-database', 74, 0.88, 410, 15),
        row('kafka-topic', 37, 0.97, 30, 9),
      ],
    };
  }

  async timeseries(query: DevexQuery) {
    const items: Period[] = Array.from({ length: 28 }, (_, i) => {
      const started = 8 + ((i * 7) % 11) + (i % 7 < 5 ? 6 : 0);
      return {
        period: new Date(Date.UTC(2026, 10, 1 + i)).toISOString().slice(0, 10),
        runsStarted: started,
        runsSucceeded: started - 2,
        runsFailed: 1,
        runsCancelled: 1,
        activeUsers: Math.round(started * 0.6),
        timeSavedSeconds: started * 4 * 3600,
      };
    });
    return { grouping: query.grouping ?? 'day', items };
  }

  async coverage() {
    const owner = (name: string, components: number, fromTemplate: number) => ({
      owner: `group:default/${name}`,
      components,
      fromTemplate,
      ratio: fromTemplate / components,
    });
    return {
      overall: { components: 150, fromTemplate: 93, ratio: 0.62 },
      items: [owner('payments', 40, 34), owner('search', 35, 12), owner('checkout', 45, 31), owner('data', 30, 16)],
    };
  }

  async deployments() {
    return {
      items: [
        { service: 'payments-api', deployments: 64, failed: 2, deploymentDays: 19, perWeek: 4.8, tier: 'daily' as const },
        { service: 'search-indexer', deployments: 9, failed: 1, deploymentDays: 6, perWeek: 1.5, tier: 'weekly' as const },
        { service: 'checkout-web', deployments: 3, failed: 0, deploymentDays: 3, perWeek: 0.8, tier: 'monthly' as const },
        { service: 'legacy-batch', deployments: 0, failed: 0, deploymentDays: 0, perWeek: 0, tier: 'none' as const },
      ],
    };
  }

  async funnel() {
    return {
      stages: [
        { name: 'started' as const, count: 412 },
        { name: 'succeeded' as const, count: 371 },
        { name: 'registered' as const, count: 355 },
        { name: 'healthy' as const, count: 301 },
      ],
    };
  }

  async freshness() {
    const svc = (name: string, owner: string, version: string, versionsBehind: number, daysBehind: number) => ({
      service: `component:default/${name}`, templateRef: 'template:default/go-service', owner: `group:default/${owner}`, version,
      currentVersion: '1.4.0', outdated: true, versionsBehind, daysBehind, createdAt: '2026-06-01T10:00:00Z',
    });
    return {
      services: 42,
      outdated: 3,
      templates: [
        { templateRef: 'template:default/go-service', currentVersion: '1.4.0', services: 30, outdated: 3, maxVersionsBehind: 3, maxDaysBehind: 120 },
        { templateRef: 'template:default/website', currentVersion: '9f2c41d7e0b84a6c1d3e5f7a9b0c2d4e6f8a0b1c', services: 12, outdated: 0, maxVersionsBehind: 0, maxDaysBehind: 0 },
      ],
      teams: [
        { owner: 'group:default/payments', services: 14, outdated: 2, maxVersionsBehind: 3, maxDaysBehind: 120 },
        { owner: 'group:default/search', services: 28, outdated: 1, maxVersionsBehind: 1, maxDaysBehind: 21 },
      ],
      laggards: [svc('ledger', 'payments', '1.1.0', 3, 120), svc('checkout', 'payments', '1.3.0', 1, 21), svc('indexer', 'search', '1.3.0', 1, 21)],
      laggardsTotal: 3,
    };
  }

  async dora(query: { groupBy?: 'service' | 'team' | 'template' }) {
    const keys = (group: string, deployments: number, lead: number, changes: number, failed: number, restore: number) => ({
      group, deployments, deploymentDays: Math.min(deployments, 20), deploymentsPerDay: Number((deployments / 28).toFixed(4)),
      deploymentFrequencyTier: deployments >= 28 ? ('elite' as const) : ('high' as const),
      leadTimeSeconds: lead, leadTimeP90Seconds: lead * 3, leadTimeSamples: deployments,
      leadTimeTier: lead < 3600 ? ('elite' as const) : ('high' as const),
      changes, failedChanges: failed, changeFailureRate: Number((failed / changes).toFixed(4)),
      changeFailureTier: failed / changes <= 0.15 ? ('elite' as const) : ('high' as const),
      timeToRestoreSeconds: restore, restored: failed, openIncidents: 0,
      timeToRestoreTier: restore < 3600 ? ('elite' as const) : ('high' as const),
    });
    const groupBy = query.groupBy ?? 'service';
    const items = {
      service: [keys('component:default/payments-api', 42, 1800, 44, 3, 1200), keys('component:default/ledger', 9, 7200, 10, 2, 5400)],
      team: [keys('group:default/payments', 51, 2400, 54, 5, 2400)],
      template: [keys('template:default/go-service', 51, 2400, 54, 5, 2400)],
    }[groupBy];
    return {
      from: '2026-11-05T00:00:00Z', to: '2026-12-03T00:00:00Z', groupBy,
      overall: { ...keys('', 51, 2400, 54, 5, 2400), group: undefined },
      items,
    };
  }

  async slos() {
    const burn = (b: number[]) => ({ '5m': b[0], '30m': b[1], '1h': b[2], '2h': b[3], '6h': b[4], '1d': b[5], '3d': b[6] });
    return {
      alerts: [
        { severity: 'page' as const, long: '1h' as const, short: '5m' as const, factor: 14.4 },
        { severity: 'page' as const, long: '6h' as const, short: '30m' as const, factor: 6 },
        { severity: 'ticket' as const, long: '1d' as const, short: '2h' as const, factor: 3 },
        { severity: 'ticket' as const, long: '3d' as const, short: '6h' as const, factor: 1 },
      ],
      items: [
        { name: 'run-success', sli: 'runSuccess' as const, objective: 0.95, windowSeconds: 2592000, current: 0.962, good: 962, total: 1000,
          budgetRemaining: 0.24, burnRates: burn([0, 0.4, 0.6, 0.5, 0.8, 1.1, 0.9]), alert: '' as const },
        { name: 'time-to-healthy', sli: 'timeToHealthy' as const, objective: 0.95, thresholdSeconds: 600, windowSeconds: 2592000,
          current: 0.91, good: 273, total: 300, budgetRemaining: -0.8, burnRates: burn([4, 3.5, 3.6, 3.4, 3.2, 2.1, 1.8]), alert: 'ticket' as const },
        { name: 'action-availability', sli: 'availability' as const, objective: 0.995, windowSeconds: 2592000, current: 0.9991, good: 9991,
          total: 10000, budgetRemaining: 0.82, burnRates: burn([0, 0, 0, 0, 0.1, 0.2, 0.2]), alert: '' as const },
      ],
    };
  }

  async satisfaction() {
    const d = (a: number, b: number, c: number, e: number, f: number): [number, number, number, number, number] => [a, b, c, e, f];
    const scores = (dist: [number, number, number, number, number], previousScore: number) => {
      const responses = dist.reduce((x, y) => x + y, 0);
      const score = dist.reduce((sum, n, i) => sum + n * (i + 1), 0) / responses;
      return { score, responses, distribution: dist, previousScore, previousResponses: responses - 3 };
    };
    return {
      overall: scores(d(4, 6, 18, 41, 30), 3.7),
      items: [
        { templateRef: 'template:default/go-service', ...scores(d(1, 2, 8, 25, 22), 3.9) },
        { templateRef: 'template:default/postgres-database', ...scores(d(3, 4, 10, 16, 8), 3.5) },
      ],
      trend: Array.from({ length: 12 }, (_, i) => ({ period: `2026-11-${String(i + 1).padStart(2, '0')}`, score: 3.4 + (i % 5) / 10, responses: 6 + i })),
      stages: [
        { stage: 'started' as const, score: 1.8, responses: 9 },
        { stage: 'succeeded' as const, score: 3.2, responses: 14 },
        { stage: 'healthy' as const, score: 4.3, responses: 76 },
      ],
      worstStage: 'started' as const,
    };
  }

  async feedbackComments() {
    return {
      items: [
        { taskId: 'a1', templateRef: 'template:default/postgres-database', owner: 'group:default/payments', score: 2, comment: 'The database took 20 minutes; I did not know whether it was stuck.', createdAt: '2026-11-27T10:00:00Z', updatedAt: '2026-11-27T10:00:00Z' },
        { taskId: 'a2', templateRef: 'template:default/go-service', score: 5, comment: 'Healthy in prod before lunch.', createdAt: '2026-11-26T10:00:00Z', updatedAt: '2026-11-26T10:00:00Z' },
      ],
    };
  }

  private demoRun: RunFeedback = { taskId: 'demo-run', templateRef: 'template:default/go-service', status: 'completed', createdAt: '2026-11-27T10:00:00Z', feedback: null, editable: true };

  async myRuns() {
    return { items: [this.demoRun] };
  }

  async myRun(taskId: string) {
    return { ...this.demoRun, taskId };
  }

  async rateRun(taskId: string, answer: { score: number; comment: string }) {
    const now = new Date().toISOString();
    this.demoRun = { ...this.demoRun, taskId, feedback: { ...answer, createdAt: now, updatedAt: now }, editableUntil: new Date(Date.now() + 7 * 86400000).toISOString() };
    return this.demoRun;
  }

  async costs(query: DevexQuery) {
    const team = (name: string, monthly: number, resources: number, budget?: number) => ({
      team: `group:default/${name}`, monthly, resources, spend: Math.round(monthly * 0.9 * 100) / 100, budget,
    });
    return {
      from: query.from ?? '',
      to: query.to ?? '',
      currency: 'USD',
      total: { monthly: 1590, resources: 6, spend: 1431 },
      teams: [team('payments', 1080, 4, 1000), team('search', 510, 2, 2000)],
      kinds: [
        { team: 'group:default/payments', kind: 'postgresql', monthly: 960, resources: 2, spend: 864 },
        { team: 'group:default/payments', kind: 's3-bucket', monthly: 120, resources: 2, spend: 108 },
        { team: 'group:default/search', kind: 'postgresql', monthly: 510, resources: 2, spend: 459 },
      ],
      timeseries: Array.from({ length: 28 }, (_, i) => ({ period: `2026-11-${String(i + 1).padStart(2, '0')}`, spend: 45 + (i % 7) * 3 })),
    };
  }

  async csvUrl(list: DevexList) {
    return `http://localhost:7010/api/paved/devex/v1/${list}?format=csv`;
  }

  async csv(list: DevexList) {
    return `${list}\n`;
  }

  // What paved made, for the entity cards and the resource page.
  private demoResource: InfraResource = {
    id: 'b3f0c9a2-5d1e-4c5b-9a77-2f7e0c1d4e10',
    kind: 'postgresql',
    title: 'PostgreSQL database',
    name: 'orders',
    driver: 'postgres',
    owner: 'group:default/guests',
    createdBy: 'user:default/guest',
    entityRef: 'component:default/shop',
    parameters: { size: 'medium', region: 'eu-west-1' },
    status: 'ready',
    createdAt: '2026-11-30T10:00:00Z',
    updatedAt: '2026-11-30T10:00:00Z',
    expiresAt: new Date(Date.now() + 3 * 86400_000).toISOString(),
    costMonthly: '120 USD',
    hasConnection: true,
    canManage: true,
    canReadConnection: true,
  };

  async resources() {
    return { items: [this.demoResource] };
  }

  async resource() {
    return this.demoResource;
  }

  async extendResource(_id: string, by: string) {
    const days = Number(by.replace(/d$/, '')) || 1;
    const at = Math.max(Date.parse(this.demoResource.expiresAt ?? ''), Date.now()) + days * 86400_000;
    this.demoResource = { ...this.demoResource, expiresAt: new Date(at).toISOString() };
    return this.demoResource;
  }

  async deleteResource(id: string) {
    return { id, kind: this.demoResource.kind, name: this.demoResource.name, deleted: true };
  }

  async connection(id: string) {
    return {
      id,
      kind: 'postgresql',
      name: 'orders',
      owner: this.demoResource.owner,
      connection: {
        host: 'db.eu-west-1.example',
        port: '5432',
        database: 'orders',
        username: 'orders',
        password: 'demo-password',
        sslmode: 'require',
        url: 'postgres://orders:demo-password@db.eu-west-1.example:5432/orders?sslmode=require',
      },
    };
  }

  private demoApps: EntityApp[] = ['staging', 'production'].map(env => ({
    instance: env === 'production' ? 'prod' : 'staging',
    name: `shop-${env}`,
    project: 'shop',
    url: `https://argocd.example/applications/argocd/shop-${env}`,
    syncStatus: env === 'production' ? 'Synced' : 'OutOfSync',
    healthStatus: env === 'production' ? 'Healthy' : 'Progressing',
    revision: '9fceb02d0ae598e95dc970b74767f19372d61af8',
    operationPhase: 'Succeeded',
    operationMessage: 'successfully synced (all tasks run)',
    destination: `in-cluster / shop-${env}`,
    canSync: true,
  }));

  async entityApps(entityRef: string) {
    return { entityRef, items: this.demoApps, unavailable: [] };
  }

  async syncApp(app: { instance: string; name: string }) {
    this.demoApps = this.demoApps.map(a =>
      a.name === app.name ? { ...a, syncStatus: 'Synced', operationPhase: 'Running', operationMessage: 'syncing' } : a,
    );
    return this.demoApps.find(a => a.name === app.name)!;
  }
  private demoApproval: ApprovalRequest = {
    id: '0b6a4b8e-2f1d-4c55-9a9e-7d0c1e2f3a4b',
    kind: 'postgresql',
    name: 'orders-analytics',
    owner: 'group:default/payments',
    parameters: { size: 'large', region: 'eu-west-1', version: '16' },
    requester: 'user:default/jane',
    approvers: 'group:default/platform',
    reason: 'approvals.rules[0] (kind postgresql, size in [large])',
    state: 'pending',
    createdAt: new Date(Date.now() - 3600_000).toISOString(),
    updatedAt: new Date(Date.now() - 3600_000).toISOString(),
    expiresAt: new Date(Date.now() + 71 * 3600_000).toISOString(),
    canDecide: true,
    events: [
      {
        requestId: '0b6a4b8e-2f1d-4c55-9a9e-7d0c1e2f3a4b',
        state: 'pending',
        actor: 'user:default/jane',
        comment: 'approvals.rules[0] (kind postgresql, size in [large])',
        at: new Date(Date.now() - 3600_000).toISOString(),
      },
    ],
  };

  async approvals() {
    return { items: this.demoApproval.state === 'pending' ? [this.demoApproval] : [] };
  }

  async approval() {
    return this.demoApproval;
  }

  async decideApproval(_id: string, decision: { approve: boolean; comment: string }) {
    this.demoApproval = {
      ...this.demoApproval,
      state: decision.approve ? 'done' : 'rejected',
      decidedBy: 'user:default/guest',
      comment: decision.comment,
      resourceId: decision.approve ? this.demoResource.id : undefined,
      canDecide: false,
    };
    return this.demoApproval;
  }
}
