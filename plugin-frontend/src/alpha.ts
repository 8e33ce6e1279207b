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
import { PavedClient, pavedApiRef } from './api';

const rootRouteRef = createRouteRef();

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

/**
 * paved's plugin for the new frontend system: the adoption page at `/paved`
 * and the API it reads from.
 *
 * @alpha
 */
export default createFrontendPlugin({
  pluginId: 'paved',
  title: 'Golden paths',
  info: { packageJson: () => import('../package.json') },
  extensions: [pavedApi, adoptionPage],
  routes: { root: rootRouteRef },
});
