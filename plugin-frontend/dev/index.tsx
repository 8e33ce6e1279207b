import { createDevApp } from '@backstage/dev-utils';
import { pavedApiRef } from '../src/api';
import { PavedAdoptionPage, pavedPlugin } from '../src/plugin';
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
  .render();
