/*
 * The JSON paved answers with is generated from its Go types into
 * ./generated.ts (`go run ./cmd/gen-ts-types`; a Go test fails when it is out
 * of date). The types here name those shapes for the UI and narrow the
 * strings whose values paved fixes (tiers, stages, windows) with `Narrow`,
 * which fails to compile when the Go side renames or retypes the field.
 */
import type * as wire from './generated';
import type { Narrow, Replace } from './narrow';

/**
 * A figure with its value for the previous period of the same length.
 *
 * @public
 */
export type Kpi = wire.DevexKPI;

/**
 * The lists paved serves under `devex/v1/`, each also as `format=csv`.
 *
 * @public
 */
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

/**
 * How a time series is bucketed.
 *
 * @public
 */
export type Grouping = 'day' | 'week' | 'month';

/**
 * Filters every DevEx endpoint takes; unset ones fall back to paved's defaults.
 *
 * @public
 */
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
  /**
   * `devex/v1/dora` only, with `groupBy` `service`: that service's rows alone, an entity
   * ref matched as Backstage compares refs (e.g. `component:default/shop`).
   */
  service?: string;
};

/**
 * The adoption figures of a period, each with the previous period's (`devex/v1/summary`).
 *
 * @public
 */
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

/**
 * One template's runs, success rate and time saved (`devex/v1/templates`).
 *
 * @public
 */
export type TemplateStats = wire.DevexTemplateStats;

/**
 * One period of `devex/v1/timeseries`; `period` is its start, e.g. `2026-11-01`.
 *
 * @public
 */
export type Period = wire.DevexPoint;

/**
 * Runs and adoption per period (`devex/v1/timeseries`).
 *
 * @public
 */
export type Timeseries = { grouping: Grouping; items: Period[] };

/**
 * How many of an owner's components came from a golden path.
 *
 * @public
 */
export type OwnerCoverage = Narrow<wire.DevexCoverageFigures, { owner: string }>;

/**
 * Golden-path coverage per owner team (`devex/v1/coverage`).
 *
 * @public
 */
export type Coverage = Narrow<wire.DevexCoverageReport, { items: OwnerCoverage[] }>;

/**
 * Four Keys deployment-frequency tier.
 *
 * @public
 */
export type Tier = wire.DevexDeploymentFrequencyTier;

/**
 * One service's deployments and its Four Keys frequency tier (`devex/v1/deployments`).
 *
 * @public
 */
export type ServiceDeployments = Narrow<wire.DevexServiceDeployments, { tier: Tier }>;

/**
 * A stage of the adoption funnel.
 *
 * @public
 */
export type FunnelStageName = wire.DevexFunnelStage;

/**
 * How many runs reached each stage of the adoption funnel (`devex/v1/funnel`).
 *
 * @public
 */
export type Funnel = { stages: Narrow<wire.DevexStage, { name: FunnelStageName }>[] };

/**
 * A developer's answer about one of their runs.
 *
 * @public
 */
export type FeedbackAnswer = Pick<wire.DevexFeedback, 'score' | 'comment' | 'createdAt' | 'updatedAt'>;

/**
 * One of the signed-in user's runs, with their answer if any.
 *
 * @public
 */
export type RunFeedback = Replace<wire.DevexRunFeedback, { feedback: FeedbackAnswer | null }>;

/**
 * Answers of a set of runs: mean score 1..5, count, how many gave each score.
 *
 * @public
 */
export type Scores = wire.DevexScores;

/**
 * Developers' ratings of their runs, overall, per stage and per template (`devex/v1/satisfaction`).
 *
 * @public
 */
export type Satisfaction = Narrow<
  wire.DevexSatisfaction,
  {
    stages: Narrow<wire.DevexStageSatisfaction, { stage: FunnelStageName }>[];
    /** The funnel stage whose runs scored lowest; empty without answers. */
    worstStage: FunnelStageName | '';
  }
>;

/**
 * A comment for the platform team; it never names the user.
 *
 * @public
 */
export type FeedbackComment = wire.DevexFeedback;

/**
 * Running monthly cost (resources alive now) and the spend in the range (prorated).
 *
 * @public
 */
export type CostFigures = wire.CostsFigures;

/**
 * What the owner teams' infrastructure costs: `devex/v1/costs`.
 *
 * @public
 */
export type CostReport = wire.CostsReport;

/**
 * The SRE workbook's burn-rate windows paved computes.
 *
 * @public
 */
export type BurnWindow = wire.DevexBurnWindow;

/**
 * One service level objective's state now (`GET devex/v1/slos`).
 *
 * @public
 */
export type SloStatus = Narrow<
  wire.DevexSLOStatus,
  {
    sli: wire.DevexSLI;
    burnRates: Record<BurnWindow, number>;
    /** The most severe multi-window burn-rate condition that holds. */
    alert: 'page' | 'ticket' | '';
  }
>;

/**
 * A DORA performance tier (elite, high, medium, low), none without data.
 *
 * @public
 */
export type DoraTier = wire.DevexDORATier;

/**
 * What `devex/v1/dora` groups the four keys by.
 *
 * @public
 */
export type DoraGrouping = wire.DevexDORAGrouping;

/**
 * The four keys of a service, team or template (or everyone: no group).
 *
 * @public
 */
export type FourKeys = Narrow<
  wire.DevexFourKeys,
  {
    deploymentFrequencyTier: DoraTier;
    leadTimeTier: DoraTier;
    changeFailureTier: DoraTier;
    timeToRestoreTier: DoraTier;
  }
>;

/**
 * `GET devex/v1/dora`.
 *
 * @public
 */
export type DoraReport = Narrow<wire.DevexDORAReport, { groupBy: DoraGrouping; overall: FourKeys; items: FourKeys[] }>;

/**
 * The service level objectives' states and the burn-rate alerts that hold (`devex/v1/slos`).
 *
 * @public
 */
export type Slos = {
  items: SloStatus[];
  alerts: Narrow<wire.DevexBurnAlert, { severity: 'page' | 'ticket'; long: BurnWindow; short: BurnWindow }>[];
};

/**
 * Golden-path freshness now (`GET devex/v1/freshness`): outdated services per template and team, the laggards.
 *
 * @public
 */
export type Freshness = wire.DevexFreshness;

/**
 * One service and how far behind its template's current version it is.
 *
 * @public
 */
export type ServiceFreshness = wire.DevexServiceFreshness;
