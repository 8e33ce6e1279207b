/**
 * What paved made for a developer, as its entity cards and resource page show
 * it: `infra/v1/resources` and `apps/v1/by-entity` (docs/api.md).
 */
import type * as wire from './generated';
import type { Narrow } from './narrow';

/**
 * A resource paved provisioned, with what the caller may do with it. Never a secret.
 *
 * @public
 */
export type InfraResource = wire.InfraView;

/**
 * The credentials of a resource: the postgres driver's keys.
 *
 * @public
 */
export type ConnectionDetails = Pick<wire.InfraResource, 'id' | 'kind' | 'name' | 'owner'> & {
  connection: Record<string, string>;
};

/**
 * One Argo CD application of an entity, on one instance.
 *
 * @public
 */
export type EntityApp = wire.ServerAppView;

/**
 * An entity's applications on every instance; an instance that failed is in `unavailable`.
 *
 * @public
 */
export type EntityApps = {
  entityRef: string;
  items: EntityApp[];
  unavailable: { instance: string; message: string }[];
};

/**
 * The state of a request held for approval: pending until an approver
 * decides, then provisioned (done or failed), or rejected, or expired.
 *
 * @public
 */
export type ApprovalState = wire.ApprovalState;

/**
 * One change of a request's state, as paved audits it.
 *
 * @public
 */
export type ApprovalEvent = Narrow<wire.ApprovalEvent, { state: ApprovalState }>;

/**
 * An infrastructure request a rule held for approval
 * (`GET approvals/v1/requests/:id`).
 *
 * @public
 */
export type ApprovalRequest = Narrow<wire.ApprovalView, { state: ApprovalState; events?: ApprovalEvent[] }>;
