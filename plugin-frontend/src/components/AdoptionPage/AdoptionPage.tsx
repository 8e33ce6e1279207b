import {
  Content,
  ContentHeader,
  Header,
  InfoCard,
  Page,
  Progress,
  ResponseErrorPanel,
  WarningPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { Grid } from '@material-ui/core';
import { ReactNode, startTransition, useEffect, useMemo, useRef, useState } from 'react';
import { useLocation } from 'react-router-dom';
import useAsync from 'react-use/esm/useAsync';
import { DevexList, DevexQuery, DoraGrouping, pavedApiRef } from '../../api';
import { AdoptionChart } from '../AdoptionChart';
import { CostPanel } from '../CostPanel';
import { CoverageByOwner } from '../CoverageByOwner';
import { CsvExportLink } from '../CsvExportLink';
import { DeploymentTiles } from '../DeploymentTiles';
import { FeedbackPrompt } from '../FeedbackPrompt';
import { FreshnessPanel } from '../FreshnessPanel';
import { FourKeysPanel } from '../FourKeysPanel';
import { Funnel } from '../Funnel';
import { SloPanel } from '../SloPanel';
import { FeedbackComments, Satisfaction } from '../Satisfaction';
import { KpiCards } from '../KpiCards';
import { TemplatesTable } from '../TemplatesTable';
import { FilterState, Filters, isoDate, rangeDates } from './Filters';

/** The objectives are measured up to now: no range, no team. */
const now: DevexQuery = {};

type Loaded<T> = { loading: boolean; error?: Error; value?: T };

/**
 * The refusal when paved does not let the signed-in user read adoption
 * metrics (401/403), with paved's reason; undefined for any other error.
 * Duck-typed: the ResponseError may come from another copy of @backstage/errors.
 */
export function accessRefusal(error?: Error): string | undefined {
  const e = error as (Error & { statusCode?: number; body?: { error?: { message?: string } } }) | undefined;
  if (!e || (e.statusCode !== 401 && e.statusCode !== 403)) return undefined;
  return e.body?.error?.message || e.message;
}

/** Renders one section's data once loaded, its progress, or its error, without holding up the others. */
function Loading<T>({ state, children }: { state: Loaded<T>; children: (value: T) => ReactNode }) {
  if (state.error) return <ResponseErrorPanel error={state.error} />;
  if (state.loading || state.value === undefined) return <Progress />;
  return <>{children(state.value)}</>;
}

/**
 * paved's answer to one panel, asked by the panel itself once the KPI cards
 * are shown (until then undefined, not loading): its answer re-renders this
 * panel only, not the page. ask is read when query changes.
 */
function useAsked<T>(ask: (query: DevexQuery) => Promise<T>, query: DevexQuery, kpisShown: boolean): Loaded<T> {
  const asking = useRef(ask);
  asking.current = ask;
  return useAsync(async () => (kpisShown ? asking.current(query) : undefined), [query, kpisShown]);
}

function Asked<T>({
  ask,
  query,
  kpisShown,
  children,
}: {
  ask: (query: DevexQuery) => Promise<T>;
  query: DevexQuery;
  kpisShown: boolean;
  children: (value: T) => ReactNode;
}) {
  return <Loading state={useAsked(ask, query, kpisShown)}>{children}</Loading>;
}

/** How long the panels wait for the KPI cards at most, should the summary be slow. */
const kpisWait = 2000;

/**
 * Whether the KPI cards have been painted (or the summary failed, or took
 * longer than kpisWait): until then the other panels neither ask paved nor
 * render, so that the headline figures come first, within a frame of
 * paved's summary. At scale the other answers are large (5,000 services'
 * four keys: 2 MB of JSON) and rendering them takes the main thread for
 * longer than a frame; asked at once, their answers, and paved computing
 * them, compete with the KPI cards for the CPU. The panels are then shown as
 * a transition, which yields to the browser between them.
 */
function useKpisShown(summarySettled: boolean): boolean {
  const [shown, setShown] = useState(false);
  useEffect(() => {
    if (shown) return undefined;
    const show = () => startTransition(() => setShown(true));
    const waited = setTimeout(show, kpisWait);
    if (!summarySettled) return () => clearTimeout(waited);
    // The frame callback runs before the next paint; the task it queues, after it.
    let painted: ReturnType<typeof setTimeout> | undefined;
    const frame = requestAnimationFrame(() => {
      painted = setTimeout(show, 0);
    });
    return () => {
      clearTimeout(waited);
      cancelAnimationFrame(frame);
      if (painted !== undefined) clearTimeout(painted);
    };
  }, [summarySettled, shown]);
  return shown;
}

function Section({
  title,
  list,
  query,
  children,
}: {
  title: string;
  list?: DevexList;
  query: DevexQuery;
  children: ReactNode;
}) {
  return (
    <InfoCard title={title} action={list && <CsvExportLink list={list} query={query} />}>
      {children}
    </InfoCard>
  );
}

/** The latest comments: shown to the platform team only, the others are told so. */
function CommentsSection({ query, kpisShown }: { query: DevexQuery; kpisShown: boolean }) {
  const paved = useApi(pavedApiRef);
  const comments = useAsked(q => paved.feedbackComments(q), query, kpisShown);
  return (
    <Section title="Latest comments (platform team)" list={comments.error ? undefined : 'feedback/comments'} query={query}>
      {accessRefusal(comments.error) ? (
        <span data-testid="feedback-comments-refused">Comments are shown to the platform team only.</span>
      ) : (
        <Loading state={comments}>
          {value => <FeedbackComments items={value.items} />}
        </Loading>
      )}
    </Section>
  );
}

/** The four keys, per service, team or template as the user picks. */
function DoraSection({ query, kpisShown }: { query: DevexQuery; kpisShown: boolean }) {
  const paved = useApi(pavedApiRef);
  const [groupBy, setGroupBy] = useState<DoraGrouping>('service');
  const doraQuery = useMemo<DevexQuery>(() => ({ ...query, groupBy }), [query, groupBy]);
  return (
    <Section title="Four keys (DORA)" list="dora" query={doraQuery}>
      <Asked ask={q => paved.dora(q)} query={doraQuery} kpisShown={kpisShown}>
        {value => <FourKeysPanel report={value} onGroupBy={setGroupBy} />}
      </Asked>
    </Section>
  );
}

/** Page content without the Page/Header frame, for apps that bring their own. */
export function AdoptionContent({ today = new Date() }: { today?: Date }) {
  const paved = useApi(pavedApiRef);
  const [filters, setFilters] = useState<FilterState>({
    range: '28d',
    from: isoDate(new Date(today.getTime() - 27 * 86400000)),
    to: isoDate(today),
    grouping: 'day',
    owner: '',
  });
  const { from, to } = rangeDates(filters, today);
  const query = useMemo<DevexQuery>(
    () => ({ from, to, grouping: filters.grouping, owner: filters.owner || undefined }),
    [from, to, filters.grouping, filters.owner],
  );
  // Coverage lists every owner, so it also feeds the team filter: it is
  // asked without the owner filter.
  const coverageQuery = useMemo<DevexQuery>(() => ({ from, to }), [from, to]);

  const summary = useAsync(() => paved.summary(query), [paved, query]);
  const kpisShown = useKpisShown(!summary.loading);
  const coverage = useAsked(q => paved.coverage(q), coverageQuery, kpisShown);
  // Freshness is now: the range does not apply, the team does.
  const freshnessQuery = useMemo<DevexQuery>(() => ({ owner: filters.owner || undefined }), [filters.owner]);
  const focusTaskId = new URLSearchParams(useLocation().search).get('feedback') ?? undefined;
  const prompt = <FeedbackPrompt focusTaskId={focusTaskId} />;
  const owners = useMemo(() => (coverage.value?.items ?? []).map(i => i.owner).sort(), [coverage.value]);

  // One refusal for the page, rather than the same error in every section.
  const refusal = accessRefusal(summary.error);
  if (refusal) {
    return (
      <Grid container spacing={3}>
        <Grid item xs={12}>
          {prompt}
        </Grid>
        <Grid item xs={12}>
          <WarningPanel severity="info" title="You cannot see adoption metrics" defaultExpanded>
            <span data-testid="paved-access-refused">{refusal}</span>. paved shows them to members of the groups in its
            devex.readerGroups setting: ask the platform team to add you or your team.
          </WarningPanel>
        </Grid>
      </Grid>
    );
  }

  return (
    <Grid container spacing={3}>
      <Grid item xs={12}>
        {prompt}
      </Grid>
      <Grid item xs={12}>
        <Filters state={filters} owners={owners} onChange={setFilters} />
      </Grid>
      <Grid item xs={12}>
        {summary.error ? <ResponseErrorPanel error={summary.error} /> : <KpiCards summary={summary.loading ? undefined : summary.value} />}
      </Grid>
      <Grid item xs={12}>
        <Section title="Service level objectives" list="slos" query={now}>
          {/* Objectives are measured up to now, whatever the range: asked once. */}
          <Asked ask={() => paved.slos()} query={now} kpisShown={kpisShown}>
            {value => <SloPanel slos={value} />}
          </Asked>
        </Section>
      </Grid>
      <Grid item xs={12}>
        <Section title="Adoption over time" list="timeseries" query={query}>
          <Asked ask={q => paved.timeseries(q)} query={query} kpisShown={kpisShown}>
            {value => <AdoptionChart timeseries={value} />}
          </Asked>
        </Section>
      </Grid>
      <Grid item xs={12} md={6}>
        <Section title="Funnel" list="funnel" query={query}>
          <Asked ask={q => paved.funnel(q)} query={query} kpisShown={kpisShown}>
            {value => <Funnel funnel={value} />}
          </Asked>
        </Section>
      </Grid>
      <Grid item xs={12} md={6}>
        <Section title="Golden-path coverage per team" list="coverage" query={coverageQuery}>
          <Loading state={coverage}>
            {value => <CoverageByOwner coverage={value} selectedOwner={filters.owner} />}
          </Loading>
        </Section>
      </Grid>
      <Grid item xs={12}>
        <Section title="Templates" list="templates" query={query}>
          <Asked ask={q => paved.templates(q)} query={query} kpisShown={kpisShown}>
            {value => <TemplatesTable items={value.items} />}
          </Asked>
        </Section>
      </Grid>
      <Grid item xs={12}>
        <Section title="Golden-path freshness" list="freshness" query={freshnessQuery}>
          <Asked ask={q => paved.freshness(q)} query={freshnessQuery} kpisShown={kpisShown}>
            {value => <FreshnessPanel freshness={value} />}
          </Asked>
        </Section>
      </Grid>
      <Grid item xs={12} md={7}>
        <Section title="Developer satisfaction" list="satisfaction" query={query}>
          <Asked ask={q => paved.satisfaction(q)} query={query} kpisShown={kpisShown}>
            {value => <Satisfaction satisfaction={value} />}
          </Asked>
        </Section>
      </Grid>
      <Grid item xs={12} md={5}>
        <CommentsSection query={query} kpisShown={kpisShown} />
      </Grid>
      <Grid item xs={12}>
        <Section title="Deployment frequency (DORA)" list="deployments" query={query}>
          <Asked ask={q => paved.deployments(q)} query={query} kpisShown={kpisShown}>
            {value => <DeploymentTiles items={value.items} />}
          </Asked>
        </Section>
      </Grid>
      <Grid item xs={12}>
        <DoraSection query={query} kpisShown={kpisShown} />
      </Grid>
      <Grid item xs={12}>
        <Section title="Infrastructure spend" list="costs" query={query}>
          <Asked ask={q => paved.costs(q)} query={query} kpisShown={kpisShown}>
            {value => <CostPanel report={value} />}
          </Asked>
        </Section>
      </Grid>
    </Grid>
  );
}

/**
 * Golden paths adoption: for the platform team, whether developers use the
 * golden paths, whether the runs succeed, and how fast services get healthy.
 */
export function AdoptionPage() {
  return (
    <Page themeId="tool">
      <Header title="Golden paths adoption" subtitle="How developers use the platform's templates" />
      <Content>
        <ContentHeader title="Adoption" />
        <AdoptionContent />
      </Content>
    </Page>
  );
}
