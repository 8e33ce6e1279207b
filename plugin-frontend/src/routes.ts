import { createRouteRef, createSubRouteRef } from '@backstage/core-plugin-api';

export const rootRouteRef = createRouteRef({ id: 'paved' });

/** One resource paved provisioned: `/paved/resources/:id`. */
export const resourceRouteRef = createSubRouteRef({
  id: 'paved-resource',
  parent: rootRouteRef,
  path: '/resources/:id',
});

/** One request held for approval: `/paved/approvals/:id` (where notifications and step outputs link). */
export const approvalRouteRef = createSubRouteRef({
  id: 'paved-approval',
  parent: rootRouteRef,
  path: '/approvals/:id',
});
