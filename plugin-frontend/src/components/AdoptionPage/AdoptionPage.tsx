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
import { ReactNode, useMemo, useState } from 'react';
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
  const timeseries = useAsync(() => paved.timeseries(query), [paved, query]);
  const templates = useAsync(() => paved.templates(query), [paved, query]);
  const funnel = useAsync(() => paved.funnel(query), [paved, query]);
  const deployments = useAsync(() => paved.deployments(query), [paved, query]);
  const costs = useAsync(() => paved.costs(query), [paved, query]);
  const [doraGroupBy, setDoraGroupBy] = useState<DoraGrouping>('service');
  const doraQuery = useMemo<DevexQuery>(() => ({ ...query, groupBy: doraGroupBy }), [query, doraGroupBy]);
  const dora = useAsync(() => paved.dora(doraQuery), [paved, doraQuery]);
  const coverage = useAsync(() => paved.coverage(coverageQuery), [paved, coverageQuery]);
  const satisfaction = useAsync(() => paved.satisfaction(query), [paved, query]);
  const comments = useAsync(() => paved.feedbackComments(query), [paved, query]);
  // Objectives are measured up to now, whatever the range: asked once.
  const slos = useAsync(() => paved.slos(), [paved]);
  // Freshness is now too: the range does not apply, the team does.
  const freshnessQuery = useMemo<DevexQuery>(() => ({ owner: filters.owner || undefined }), [filters.owner]);
  const freshness = useAsync(() => paved.freshness(freshnessQuery), [paved, freshnessQuery]);
  const focusTaskId = new URLSearchParams(useLocation().search).get('feedback') ?? undefined;
  const prompt = <FeedbackPrompt focusTaskId={focusTaskId} />;
  const owners = (coverage.value?.items ?? []).map(i => i.owner).sort();

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
        <Loading state={summary}>{value => <KpiCards summary={value} />}</Loading>
      </Grid>
      <Grid item xs={12}>
        <Section title="Service level objectives" list="slos" query={now}>
          <Loading state={slos}>{value => <SloPanel slos={value} />}</Loading>
        </Section>
      </Grid>
      <Grid item xs={12}>
        <Section title="Adoption over time" list="timeseries" query={query}>
          <Loading state={timeseries}>{value => <AdoptionChart timeseries={value} />}</Loading>
        </Section>
      </Grid>
      <Grid item xs={12} md={6}>
        <Section title="Funnel" list="funnel" query={query}>
          <Loading state={funnel}>{value => <Funnel funnel={value} />}</Loading>
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
          <Loading state={templates}>{value => <TemplatesTable items={value.items} />}</Loading>
        </Section>
      </Grid>
      <Grid item xs={12}>
        <Section title="Golden-path freshness" list="freshness" query={freshnessQuery}>
          <Loading state={freshness}>{value => <FreshnessPanel freshness={value} />}</Loading>
        </Section>
      </Grid>
      <Grid item xs={12} md={7}>
        <Section title="Developer satisfaction" list="satisfaction" query={query}>
          <Loading state={satisfaction}>{value => <Satisfaction satisfaction={value} />}</Loading>
        </Section>
      </Grid>
      <Grid item xs={12} md={5}>
        <Section title="Latest comments (platform team)" list={comments.error ? undefined : 'feedback/comments'} query={query}>
          {accessRefusal(comments.error) ? (
            <span data-testid="feedback-comments-refused">Comments are shown to the platform team only.</span>
          ) : (
            <Loading state={comments}>{value => <FeedbackComments items={value.items} />}</Loading>
          )}
        </Section>
      </Grid>
      <Grid item xs={12}>
        <Section title="Deployment frequency (DORA)" list="deployments" query={query}>
          <Loading state={deployments}>{value => <DeploymentTiles items={value.items} />}</Loading>
        </Section>
      </Grid>
      <Grid item xs={12}>
        <Section title="Four keys (DORA)" list="dora" query={doraQuery}>
          <Loading state={dora}>{value => <FourKeysPanel report={value} onGroupBy={setDoraGroupBy} />}</Loading>
        </Section>
      </Grid>
      <Grid item xs={12}>
        <Section title="Infrastructure spend" list="costs" query={query}>
          <Loading state={costs}>{value => <CostPanel report={value} />}</Loading>
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
