import {
  createApiFactory,
  createPlugin,
  createRoutableExtension,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { PavedClient, pavedApiRef } from './api';
import { rootRouteRef } from './routes';

/**
 * paved's frontend plugin for apps on the legacy frontend system; the new
 * frontend system's plugin is in `@paved/plugin-paved/alpha`.
 *
 * @public
 */
export const pavedPlugin = createPlugin({
  id: 'paved',
  apis: [
    createApiFactory({
      api: pavedApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) => new PavedClient({ discoveryApi, fetchApi }),
    }),
  ],
  routes: { root: rootRouteRef },
});

/**
 * The "Golden paths adoption" page. Mount it in the app's routes, e.g.
 * `<Route path="/paved" element={<PavedAdoptionPage />} />`.
 *
 * @public
 */
export const PavedAdoptionPage = pavedPlugin.provide(
  createRoutableExtension({
    name: 'PavedAdoptionPage',
    component: () => import('./components/AdoptionPage').then(m => m.AdoptionPage),
    mountPoint: rootRouteRef,
  }),
);
