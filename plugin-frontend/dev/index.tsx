import { createDevApp } from '@backstage/dev-utils';
import { pavedApiRef } from '../src/api';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import { Grid } from '@material-ui/core';
import { EntityPavedAppCard, EntityPavedResourceCard, PavedAdoptionPage, pavedPlugin } from '../src/plugin';
import { DemoPavedApi } from './demoApi';

// `?paved=live` talks to a real paved through discovery (configure
// discovery.endpoints in app-config.local.yaml); otherwise demo data.
const live = new URLSearchParams(window.location.search).get('paved') === 'live';

const app = createDevApp().registerPlugin(pavedPlugin);
if (!live) {
  app.registerApi({ api: pavedApiRef, deps: {}, factory: () => new DemoPavedApi() });
}
app
  .addPage({ element: <PavedAdoptionPage />, title: 'Golden paths adoption', path: '/paved' })
  .addPage({
    title: 'Entity cards',
    path: '/entity-cards',
    element: (
      <Grid container spacing={3} style={{ padding: 24 }}>
        <Grid item xs={12} md={7}>
          <EntityProvider entity={{ apiVersion: 'backstage.io/v1alpha1', kind: 'Component', metadata: { name: 'shop' }, spec: { owner: 'guests' } }}>
            <EntityPavedAppCard />
          </EntityProvider>
        </Grid>
        <Grid item xs={12} md={5}>
          <EntityProvider
            entity={{
              apiVersion: 'backstage.io/v1alpha1',
              kind: 'Resource',
              metadata: { name: 'orders', annotations: { 'paved.dev/infra-id': 'b3f0c9a2-5d1e-4c5b-9a77-2f7e0c1d4e10' } },
              spec: { owner: 'guests', type: 'database' },
            }}
          >
            <EntityPavedResourceCard />
          </EntityProvider>
        </Grid>
      </Grid>
    ),
  })
  .render();
