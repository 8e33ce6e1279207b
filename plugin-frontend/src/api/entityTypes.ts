/**
 * What paved made for a developer, as its entity cards and resource page show
 * it: `infra/v1/resources` and `apps/v1/by-entity` (docs/api.md).
 */

/** A resource paved provisioned, with what the caller may do with it. Never a secret. */
export type InfraResource = {
  id: string;
  kind: string;
  /** The kind's title (the golden path's name). */
  title: string;
  name: string;
  driver: string;
  /** User or group entity ref. */
  owner: string;
  createdBy: string;
  /** The component using it, if any. */
  entityRef?: string;
  /** The golden path's parameters: size, region… */
  parameters: Record<string, unknown>;
  status: string;
  details?: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  /** Absent: kept until deleted. */
  expiresAt?: string;
  /** What it costs per month, "480 USD"; absent while unpriced. */
  costMonthly?: string;
  hasConnection: boolean;
  /** The caller may extend and tear it down. */
  canManage: boolean;
  /** The caller may read the connection details (the owner, or a member of the owner group). */
  canReadConnection: boolean;
};

/** The credentials of a resource: the postgres driver's keys. */
export type ConnectionDetails = {
  id: string;
  kind: string;
  name: string;
  owner: string;
  connection: Record<string, string>;
};

/** One Argo CD application of an entity, on one instance. */
export type EntityApp = {
  instance: string;
  name: string;
  namespace?: string;
  project: string;
  /** The application in Argo CD's UI. */
  url: string;
  syncStatus: string;
  healthStatus: string;
  revision: string;
  operationPhase?: string;
  operationMessage?: string;
  destination: string;
  repoURL?: string;
  /** The caller may sync it (paved.argocd.app.sync). */
  canSync: boolean;
};

/** An entity's applications on every instance; an instance that failed is in `unavailable`. */
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
export type ApprovalState =
  | 'pending'
  | 'approved'
  | 'provisioning'
  | 'done'
  | 'rejected'
  | 'expired'
  | 'failed';

/**
 * One change of a request's state, as paved audits it.
 *
 * @public
 */
export interface ApprovalEvent {
  requestId: string;
  state: ApprovalState;
  actor: string;
  comment?: string;
  at: string;
}

/**
 * An infrastructure request a rule held for approval
 * (`GET approvals/v1/requests/:id`).
 *
 * @public
 */
export interface ApprovalRequest {
  id: string;
  kind: string;
  name: string;
  owner: string;
  parameters: Record<string, unknown>;
  entityRef?: string;
  requester: string;
  approvers: string;
  /** The rule that asked for approval. */
  reason: string;
  state: ApprovalState;
  decidedBy?: string;
  comment?: string;
  /** The provisioned resource, once done. */
  resourceId?: string;
  error?: string;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
  /** Whether the signed-in user may approve or reject it now. */
  canDecide: boolean;
  events?: ApprovalEvent[];
}
