import { createRouteRef, createSubRouteRef } from '@backstage/core-plugin-api';

export const rootRouteRef = createRouteRef({ id: 'paved' });

/** One resource paved provisioned: `/paved/resources/:id`. */
export const resourceRouteRef = createSubRouteRef({
  id: 'paved-resource',
  parent: rootRouteRef,
  path: '/resources/:id',
});
