// A Backstage backend with the catalog and the scaffolder, for paved's
// end-to-end tests. Extra backend modules (paved's TypeScript modules, once
// built) come from BACKSTAGE_EXTRA_MODULES: a path-delimiter-separated list
// of package names or paths. BACKSTAGE_PERMISSIONS=1 adds the auth backend
// (users sign in through the oauth2-proxy provider), the permission backend
// and the policy of permission-policy.js; BACKSTAGE_MCP=1 adds the MCP
// actions plugin (POST /api/mcp-actions/v1), which serves the actions
// registry's actions, paved's among them, as MCP tools;
// BACKSTAGE_NOTIFICATIONS=1 adds the notifications backend (plugins send
// with a service token, users read theirs with their own).
const path = require('node:path');
const { createBackend } = require('@backstage/backend-defaults');

const backend = createBackend();
backend.add(require('@backstage/plugin-catalog-backend'));
backend.add(require('@backstage/plugin-catalog-backend-module-scaffolder-entity-model'));
backend.add(require('@backstage/plugin-scaffolder-backend'));
if (process.env.BACKSTAGE_PERMISSIONS === '1') {
  backend.add(require('@backstage/plugin-auth-backend'));
  backend.add(require('@backstage/plugin-auth-backend-module-oauth2-proxy-provider'));
  backend.add(require('@backstage/plugin-permission-backend'));
  backend.add(require('./permission-policy.js'));
}
if (process.env.BACKSTAGE_MCP === '1') {
  backend.add(require('@backstage/plugin-mcp-actions-backend'));
}
if (process.env.BACKSTAGE_NOTIFICATIONS === '1') {
  backend.add(require('@backstage/plugin-notifications-backend'));
}

for (const spec of (process.env.BACKSTAGE_EXTRA_MODULES || '').split(path.delimiter)) {
  if (!spec) continue;
  const isPath = spec.startsWith('.') || path.isAbsolute(spec);
  const resolved = require.resolve(isPath ? path.resolve(spec) : spec, {
    paths: [process.cwd(), __dirname],
  });
  backend.add(require(resolved));
}

backend.start();
