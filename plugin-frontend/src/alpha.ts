import { Content } from '@backstage/core-components';
import {
  ApiBlueprint,
  createFrontendPlugin,
  createRouteRef,
  discoveryApiRef,
  fetchApiRef,
  PageBlueprint,
} from '@backstage/frontend-plugin-api';
import { createElement } from 'react';
import { Entity } from '@backstage/catalog-model';
import { EntityCardBlueprint } from '@backstage/plugin-catalog-react/alpha';
import { PavedClient, pavedApiRef } from './api';
import { isPavedResourceAvailable } from './annotations';

const rootRouteRef = createRouteRef();
const resourceRouteRef = createRouteRef({ params: ['id'] });
const approvalsRouteRef = createRouteRef();
const approvalRouteRef = createRouteRef({ params: ['id'] });

const pavedApi = ApiBlueprint.make({
  params: defineParams =>
    defineParams({
      api: pavedApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) => new PavedClient({ discoveryApi, fetchApi }),
    }),
});

// The app draws the page header from the title; the page brings only its content.
const adoptionPage = PageBlueprint.make({
  params: {
    path: '/paved',
    title: 'Golden paths adoption',
    routeRef: rootRouteRef,
    loader: () =>
      import('./components/AdoptionPage').then(m =>
        createElement(Content, null, createElement(m.AdoptionContent)),
      ),
  },
});

// One provisioned resource, where the templates' output links point.
const resourcePage = PageBlueprint.make({
  name: 'resource',
  params: {
    path: '/paved/resources/:id',
    title: 'Provisioned resource',
    routeRef: resourceRouteRef,
    loader: () =>
      import('./components/ResourcePage').then(m => createElement(Content, null, createElement(m.ResourceContent))),
  },
});

// The requests held for approval, and one of them (where notifications link).
const approvalsPage = PageBlueprint.make({
  name: 'approvals',
  params: {
    path: '/paved/approvals',
    title: 'Approval requests',
    routeRef: approvalsRouteRef,
    loader: () =>
      import('./components/ApprovalPage').then(m => createElement(Content, null, createElement(m.ApprovalContent))),
  },
});

const approvalPage = PageBlueprint.make({
  name: 'approval',
  params: {
    path: '/paved/approvals/:id',
    title: 'Approval request',
    routeRef: approvalRouteRef,
    loader: () =>
      import('./components/ApprovalPage').then(m => createElement(Content, null, createElement(m.ApprovalContent))),
  },
});

// The entity cards: a Component's Argo CD applications, a Resource paved provisioned.
const appCard = EntityCardBlueprint.make({
  name: 'app',
  params: {
    filter: 'kind:component',
    loader: () => import('./components/AppCard').then(m => createElement(m.EntityPavedAppCard)),
  },
});

const resourceCard = EntityCardBlueprint.make({
  name: 'resource',
  params: {
    filter: (entity: Entity) => isPavedResourceAvailable(entity),
    loader: () => import('./components/ResourceCard').then(m => createElement(m.EntityPavedResourceCard)),
  },
});

/**
 * paved's plugin for the new frontend system: the adoption page at `/paved`,
 * a resource's page at `/paved/resources/:id`, the approval requests at
 * `/paved/approvals` and `/paved/approvals/:id`, the entity cards of a
 * Component's Argo CD apps and of a Resource paved provisioned, and the API
 * they read from.
 *
 * @alpha
 */
export default createFrontendPlugin({
  pluginId: 'paved',
  title: 'Golden paths',
  info: { packageJson: () => import('../package.json') },
  extensions: [pavedApi, adoptionPage, resourcePage, approvalsPage, approvalPage, appCard, resourceCard],
  routes: { root: rootRouteRef, resource: resourceRouteRef, approvals: approvalsRouteRef, approval: approvalRouteRef },
});
