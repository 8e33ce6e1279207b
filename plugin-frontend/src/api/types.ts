/** A figure with its value for the previous period of the same length. */
export type Kpi = { value: number; previous: number };

/** The lists paved serves under `devex/v1/`, each also as `format=csv`. */
export type DevexList =
  | 'templates'
  | 'timeseries'
  | 'coverage'
  | 'deployments'
  | 'funnel'
  | 'satisfaction'
  | 'feedback/comments'
  | 'costs'
  | 'slos';

export type Grouping = 'day' | 'week' | 'month';

/** Filters every DevEx endpoint takes; unset ones fall back to paved's defaults. */
export type DevexQuery = {
  /** RFC 3339 date or time. */
  from?: string;
  to?: string;
  grouping?: Grouping;
  /** Group entity ref, e.g. `group:default/payments`. */
  owner?: string;
  /** Template entity ref. */
  template?: string;
};

export type Summary = {
  from: string;
  to: string;
  previousFrom: string;
  previousTo: string;
  kpis: {
    runsStarted: Kpi;
    runsSucceeded: Kpi;
    runsFailed: Kpi;
    /** 0..1 */
    successRate: Kpi;
    activeUsers: Kpi;
    timeSavedSeconds: Kpi;
    /** 0..1 */
    coverage: Kpi;
    medianTimeToHealthySeconds: Kpi;
    deployments: Kpi;
  };
};

export type TemplateStats = {
  templateRef: string;
  runs: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  successRate: number;
  p50DurationSeconds: number;
  p95DurationSeconds: number;
  uniqueUsers: number;
  timeSavedSeconds: number;
};

export type Period = {
  /** Start of the period, e.g. `2026-11-01`. */
  period: string;
  runsStarted: number;
  runsSucceeded: number;
  runsFailed: number;
  activeUsers: number;
  timeSavedSeconds: number;
};

export type Timeseries = { grouping: Grouping; items: Period[] };

export type OwnerCoverage = {
  owner: string;
  components: number;
  fromTemplate: number;
  ratio: number;
};

export type Coverage = {
  overall: { components: number; fromTemplate: number; ratio: number };
  items: OwnerCoverage[];
};

/** Four Keys deployment-frequency tier. */
export type Tier = 'daily' | 'weekly' | 'monthly' | 'yearly' | 'none';

export type ServiceDeployments = {
  service: string;
  deployments: number;
  failed: number;
  deploymentDays: number;
  perWeek: number;
  tier: Tier;
};

export type FunnelStageName = 'started' | 'succeeded' | 'registered' | 'healthy';

export type Funnel = { stages: { name: FunnelStageName; count: number }[] };

/** A developer's answer about one of their runs. */
export type FeedbackAnswer = {
  score: number;
  comment: string;
  createdAt: string;
  updatedAt: string;
};

/** One of the signed-in user's runs, with their answer if any. */
export type RunFeedback = {
  taskId: string;
  templateRef: string;
  owner?: string;
  status: string;
  createdAt: string;
  feedback: FeedbackAnswer | null;
  /** Whether the user may answer, or change the answer, now. */
  editable: boolean;
  editableUntil?: string;
};

/** Answers of a set of runs: mean score 1..5, count, how many gave each score. */
export type Scores = {
  score: number;
  responses: number;
  /** Answers scoring 1, 2, 3, 4, 5. */
  distribution: [number, number, number, number, number];
  previousScore: number;
  previousResponses: number;
};

export type Satisfaction = {
  overall: Scores;
  items: (Scores & { templateRef: string })[];
  trend: { period: string; score: number; responses: number }[];
  stages: { stage: FunnelStageName; score: number; responses: number }[];
  /** The funnel stage whose runs scored lowest; empty without answers. */
  worstStage: FunnelStageName | '';
};

/** A comment for the platform team; it never names the user. */
export type FeedbackComment = {
  taskId: string;
  templateRef: string;
  owner?: string;
  score: number;
  comment: string;
  createdAt: string;
  updatedAt: string;
};

/** Running monthly cost (resources alive now) and the spend in the range (prorated). */
export type CostFigures = { monthly: number; resources: number; spend: number };

/** What the owner teams' infrastructure costs: `devex/v1/costs`. */
export type CostReport = {
  from: string;
  to: string;
  /** ISO 4217; empty when nothing is priced. */
  currency: string;
  total: CostFigures;
  /** Sorted by running monthly cost, highest first; `budget` is absent without one. */
  teams: (CostFigures & { team: string; budget?: number })[];
  kinds: (CostFigures & { team: string; kind: string })[];
  timeseries: { period: string; spend: number }[];
};

/** The SRE workbook's burn-rate windows paved computes. */
export type BurnWindow = '5m' | '30m' | '1h' | '2h' | '6h' | '1d' | '3d';

/** One service level objective's state now (`GET devex/v1/slos`). */
export type SloStatus = {
  name: string;
  sli: 'runSuccess' | 'timeToHealthy' | 'availability';
  template?: string;
  objective: number;
  thresholdSeconds?: number;
  windowSeconds: number;
  /** Good ÷ all over the compliance window; null without events. */
  current: number | null;
  good: number;
  total: number;
  /** Unspent share of the error budget: 1 untouched, 0 spent, negative overspent. */
  budgetRemaining: number;
  burnRates: Record<BurnWindow, number>;
  /** The most severe multi-window burn-rate condition that holds. */
  alert: 'page' | 'ticket' | '';
};

export type Slos = {
  items: SloStatus[];
  alerts: { severity: 'page' | 'ticket'; long: BurnWindow; short: BurnWindow; factor: number }[];
};
