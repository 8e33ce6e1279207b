import {
  createApiFactory,
  createComponentExtension,
  createPlugin,
  createRoutableExtension,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import type { JSX } from 'react';
import { PavedClient, pavedApiRef } from './api';
import { approvalRouteRef, resourceRouteRef, rootRouteRef } from './routes';

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
  routes: { root: rootRouteRef, resource: resourceRouteRef, approval: approvalRouteRef },
});

/**
 * paved's pages: "Golden paths adoption" at its root, one provisioned
 * resource at `resources/:id` (where the templates' output links point), and
 * the requests held for approval at `approvals` and `approvals/:id` (where
 * the approvers' notifications link).
 * Mount it in the app's routes, e.g.
 * `<Route path="/paved" element={<PavedAdoptionPage />} />`.
 *
 * @public
 */
export const PavedAdoptionPage: () => JSX.Element = pavedPlugin.provide(
  createRoutableExtension({
    name: 'PavedAdoptionPage',
    component: () => import('./components/Router').then(m => m.Router),
    mountPoint: rootRouteRef,
  }),
);

/**
 * A Component entity page's card: its Argo CD applications on every
 * instance paved reaches, with their sync, health, revision and last
 * operation, and a Sync for the owner.
 *
 * @public
 */
export const EntityPavedAppCard: () => JSX.Element = pavedPlugin.provide(
  createComponentExtension({
    name: 'EntityPavedAppCard',
    component: { lazy: () => import('./components/AppCard').then(m => m.EntityPavedAppCard) },
  }),
);

/**
 * A Resource entity page's card for what paved provisioned (annotation
 * `paved.dev/infra-id`): status, owner, lifetime with extend and tear down,
 * cost, and the connection details for the owner.
 *
 * @public
 */
export const EntityPavedResourceCard: () => JSX.Element = pavedPlugin.provide(
  createComponentExtension({
    name: 'EntityPavedResourceCard',
    component: { lazy: () => import('./components/ResourceCard').then(m => m.EntityPavedResourceCard) },
  }),
);
