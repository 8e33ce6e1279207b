/*
 * The JSON paved answers with is generated from its Go types into
 * ./generated.ts (`go run ./cmd/gen-ts-types`; a Go test fails when it is out
 * of date). The types here name those shapes for the UI and narrow the
 * strings whose values paved fixes (tiers, stages, windows) with `Narrow`,
 * which fails to compile when the Go side renames or retypes the field.
 */
import type * as wire from './generated';
import type { Narrow, Replace } from './narrow';

/** A figure with its value for the previous period of the same length. */
export type Kpi = wire.DevexKPI;

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
  | 'slos'
  | 'freshness'
  | 'dora';

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
  /** `devex/v1/dora` only: per service (default), team or template. */
  groupBy?: DoraGrouping;
};

export type Summary = Narrow<
  wire.DevexSummary,
  {
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
  }
>;

export type TemplateStats = wire.DevexTemplateStats;

/** One period of `devex/v1/timeseries`; `period` is its start, e.g. `2026-11-01`. */
export type Period = wire.DevexPoint;

export type Timeseries = { grouping: Grouping; items: Period[] };

export type OwnerCoverage = Narrow<wire.DevexCoverageFigures, { owner: string }>;

export type Coverage = Narrow<wire.DevexCoverageReport, { items: OwnerCoverage[] }>;

/** Four Keys deployment-frequency tier. */
export type Tier = wire.DevexDeploymentFrequencyTier;

export type ServiceDeployments = Narrow<wire.DevexServiceDeployments, { tier: Tier }>;

export type FunnelStageName = wire.DevexFunnelStage;

export type Funnel = { stages: Narrow<wire.DevexStage, { name: FunnelStageName }>[] };

/** A developer's answer about one of their runs. */
export type FeedbackAnswer = Pick<wire.DevexFeedback, 'score' | 'comment' | 'createdAt' | 'updatedAt'>;

/** One of the signed-in user's runs, with their answer if any. */
export type RunFeedback = Replace<wire.DevexRunFeedback, { feedback: FeedbackAnswer | null }>;

/** Answers of a set of runs: mean score 1..5, count, how many gave each score. */
export type Scores = wire.DevexScores;

export type Satisfaction = Narrow<
  wire.DevexSatisfaction,
  {
    stages: Narrow<wire.DevexStageSatisfaction, { stage: FunnelStageName }>[];
    /** The funnel stage whose runs scored lowest; empty without answers. */
    worstStage: FunnelStageName | '';
  }
>;

/** A comment for the platform team; it never names the user. */
export type FeedbackComment = wire.DevexFeedback;

/** Running monthly cost (resources alive now) and the spend in the range (prorated). */
export type CostFigures = wire.CostsFigures;

/** What the owner teams' infrastructure costs: `devex/v1/costs`. */
export type CostReport = wire.CostsReport;

/** The SRE workbook's burn-rate windows paved computes. */
export type BurnWindow = wire.DevexBurnWindow;

/** One service level objective's state now (`GET devex/v1/slos`). */
export type SloStatus = Narrow<
  wire.DevexSLOStatus,
  {
    sli: wire.DevexSLI;
    burnRates: Record<BurnWindow, number>;
    /** The most severe multi-window burn-rate condition that holds. */
    alert: 'page' | 'ticket' | '';
  }
>;

/** A DORA performance tier (elite, high, medium, low), none without data. */
export type DoraTier = wire.DevexDORATier;

export type DoraGrouping = wire.DevexDORAGrouping;

/** The four keys of a service, team or template (or everyone: no group). */
export type FourKeys = Narrow<
  wire.DevexFourKeys,
  {
    deploymentFrequencyTier: DoraTier;
    leadTimeTier: DoraTier;
    changeFailureTier: DoraTier;
    timeToRestoreTier: DoraTier;
  }
>;

/** `GET devex/v1/dora`. */
export type DoraReport = Narrow<wire.DevexDORAReport, { groupBy: DoraGrouping; overall: FourKeys; items: FourKeys[] }>;

export type Slos = {
  items: SloStatus[];
  alerts: Narrow<wire.DevexBurnAlert, { severity: 'page' | 'ticket'; long: BurnWindow; short: BurnWindow }>[];
};

/** Golden-path freshness now (`GET devex/v1/freshness`): outdated services per template and team, the laggards. */
export type Freshness = wire.DevexFreshness;

/** One service and how far behind its template's current version it is. */
export type ServiceFreshness = wire.DevexServiceFreshness;
