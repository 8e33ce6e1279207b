// A permission policy module for the e2e Backstage backend: what a Backstage
// admin writes to cover paved (see paved's docs/api.md, "Permissions"). It is
// an allow-list for paved's permissions; everything else (the catalog's and
// the scaffolder's own permissions) is allowed. Two of its decisions are
// conditional, with paved's rules by name, which paved applies to the
// resource:
//   - members of a resource's owner group may deprovision it, read its
//     connection details and extend it (IS_OWNER with the user's ownership refs);
//   - size large only for group platform (others: not HAS_PARAMETER size=large);
//   - Argo CD apps: platform may do anything; two groups of deployers may
//     create, sync and delete apps only where their scope says, one by
//     project (HAS_PROJECT), one by destination namespace
//     (DESTINATION_NAMESPACE_MATCHES), and delete only apps paved created
//     (IS_MANAGED_BY_PAVED); widening a project is for platform only.
const { createBackendModule } = require('@backstage/backend-plugin-api');
const { policyExtensionPoint } = require('@backstage/plugin-permission-node/alpha');

const PLATFORM = 'group:default/platform';
const INFRA = 'paved-infra-resource';
const APP = 'paved-argocd-app';

// Where each group of deployers may create, sync and delete Argo CD apps.
const appScopes = {
  'group:default/x-deployers': {
    rule: 'HAS_PROJECT',
    resourceType: APP,
    params: { projects: ['proj-x'] },
  },
  'group:default/team-a-deployers': {
    rule: 'DESTINATION_NAMESPACE_MATCHES',
    resourceType: APP,
    params: { patterns: ['team-a-*'] },
  },
};
const appActions = new Set(['create-argocd-app', 'sync-argocd-app', 'delete-argocd-app']);

const allow = { result: 'ALLOW' };
const deny = { result: 'DENY' };
const conditional = (resourceType, conditions) => ({
  result: 'CONDITIONAL',
  pluginId: 'paved',
  resourceType,
  conditions,
});

// Actions anyone signed in may invoke besides the read-only ones; the
// resource permissions below decide what they may do with them.
const openActions = new Set(['provision-infra', 'deprovision-infra']);

class PavedPolicy {
  async handle(request, user) {
    const { name, attributes } = request.permission;
    if (!name.startsWith('paved.')) {
      return allow;
    }
    const refs = user?.info.ownershipEntityRefs ?? [];
    const platform = refs.includes(PLATFORM);
    const scopes = refs.filter(ref => appScopes[ref]).map(ref => appScopes[ref]);
    const action = /^paved\.action\.(.+)\.invoke$/.exec(name);
    if (action) {
      if (attributes.action === 'read' || openActions.has(action[1])) {
        return allow;
      }
      if (scopes.length > 0 && appActions.has(action[1])) {
        return allow;
      }
      return platform ? allow : deny;
    }
    switch (name) {
      case 'paved.argocd.app.read':
      case 'paved.devex.feedback.create': // every user rates their own runs
        return allow;
      case 'paved.argocd.app.create':
      case 'paved.argocd.app.sync':
      case 'paved.argocd.app.delete': {
        if (platform) {
          return allow;
        }
        if (scopes.length === 0) {
          return deny;
        }
        const scope = scopes.length === 1 ? scopes[0] : { anyOf: scopes };
        if (name !== 'paved.argocd.app.delete') {
          return conditional(APP, scope);
        }
        return conditional(APP, {
          allOf: [scope, { rule: 'IS_MANAGED_BY_PAVED', resourceType: APP, params: {} }],
        });
      }
      case 'paved.infra.provision':
        return platform
          ? allow
          : conditional(INFRA, {
              not: {
                rule: 'HAS_PARAMETER',
                resourceType: INFRA,
                params: { parameter: 'size', values: ['large'] },
              },
            });
      case 'paved.infra.deprovision':
      case 'paved.infra.connection.read':
      case 'paved.infra.extend':
        return conditional(INFRA, {
          rule: 'IS_OWNER',
          resourceType: INFRA,
          params: { claims: refs },
        });
      default:
        return platform ? allow : deny; // audit, adoption metrics, operator permissions
    }
  }
}

module.exports = createBackendModule({
  pluginId: 'permission',
  moduleId: 'paved-e2e-policy',
  register(reg) {
    reg.registerInit({
      deps: { policy: policyExtensionPoint },
      async init({ policy }) {
        policy.setPolicy(new PavedPolicy());
      },
    });
  },
});
