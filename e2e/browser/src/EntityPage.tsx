// An entity page as a Backstage app's catalog draws it, reduced to paved's
// cards: the entity is read from the catalog's by-name route through the
// app's discovery and fetch APIs (as CatalogClient.getEntityByRef does),
// and provided to the cards with EntityProvider.
import { Entity } from '@backstage/catalog-model';
import { Content, Header, Page, Progress, ResponseErrorPanel } from '@backstage/core-components';
import { discoveryApiRef, fetchApiRef, useApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import { EntityPavedAppCard, EntityPavedResourceCard, isPavedResourceAvailable } from '@paved/plugin-paved';
import { Grid } from '@material-ui/core';
import { useParams } from 'react-router-dom';
import useAsync from 'react-use/esm/useAsync';

export function EntityPage() {
  const { namespace = 'default', kind = '', name = '' } = useParams();
  const discovery = useApi(discoveryApiRef);
  const fetchApi = useApi(fetchApiRef);
  const state = useAsync(async () => {
    const base = await discovery.getBaseUrl('catalog');
    const path = [kind, namespace, name].map(encodeURIComponent).join('/');
    const res = await fetchApi.fetch(`${base}/entities/by-name/${path}`);
    if (!res.ok) throw await ResponseError.fromResponse(res);
    return (await res.json()) as Entity;
  }, [kind, namespace, name]);
  const entity = state.value;
  return (
    <Page themeId="home">
      <Header title={entity?.metadata.title ?? name} subtitle={`${kind} in ${namespace}`} />
      <Content>
        {state.error && <ResponseErrorPanel error={state.error} />}
        {state.loading && <Progress />}
        {entity && (
          <EntityProvider entity={entity}>
            <Grid container spacing={3}>
              <Grid item xs={12} md={8}>
                {entity.kind.toLowerCase() === 'component' && <EntityPavedAppCard />}
                {isPavedResourceAvailable(entity) && <EntityPavedResourceCard />}
              </Grid>
            </Grid>
          </EntityProvider>
        )}
      </Content>
    </Page>
  );
}
