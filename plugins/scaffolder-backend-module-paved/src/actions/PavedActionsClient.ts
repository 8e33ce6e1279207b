import {
  AuthService,
  BackstageCredentials,
  DiscoveryService,
} from '@backstage/backend-plugin-api';
import { JsonObject } from '@backstage/types';

/**
 * One action as paved lists it (`GET .backstage/actions/v1/actions`).
 *
 * @public
 */
export type PavedAction = {
  id: string;
  name: string;
  title?: string;
  description?: string;
  pluginId?: string;
  attributes?: { destructive?: boolean; idempotent?: boolean; readOnly?: boolean };
  examples?: unknown[];
  schema?: { input?: JsonObject; output?: JsonObject };
};

/** paved's error JSON, as every Backstage backend answers a failure. */
type ErrorBody = {
  error?: {
    name?: string;
    message?: string;
    fields?: { field?: string; message?: string }[];
  };
};

/**
 * Thrown when paved refuses or fails an invocation. The message is paved's
 * own, so the scaffolder's task log tells the user what to fix.
 *
 * @public
 */
export class PavedActionError extends Error {
  /** paved's id of the action that failed. */
  readonly actionId: string;
  /** The HTTP status paved answered with. */
  readonly status: number;
  /** The `error.name` of paved's answer, e.g. `InputError`. */
  readonly errorName: string;

  constructor(actionId: string, status: number, errorName: string, detail: string) {
    super(`paved action ${actionId} failed (${status} ${errorName}): ${detail}`);
    this.name = 'PavedActionError';
    this.actionId = actionId;
    this.status = status;
    this.errorName = errorName;
  }
}

/**
 * Speaks the actions part of Backstage's plugin protocol to paved.
 *
 * @public
 */
export class PavedActionsClient {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly auth: AuthService,
    private readonly pluginId = 'paved',
  ) {}

  /** The actions paved offers (`GET .backstage/actions/v1/actions`). */
  async list(): Promise<PavedAction[]> {
    const res = await this.request('GET', '.backstage/actions/v1/actions');
    if (!res.ok) {
      throw await errorFrom(res, 'list');
    }
    const body = (await res.json()) as { actions?: PavedAction[] };
    return body.actions ?? [];
  }

  /**
   * Invokes one action. `onBehalfOf` is the task's initiator, so paved sees
   * the user behind the scaffolder's plugin token.
   */
  async invoke(
    id: string,
    input: JsonObject,
    onBehalfOf?: BackstageCredentials,
  ): Promise<{ status: number; output: JsonObject }> {
    const res = await this.request(
      'POST',
      `.backstage/actions/v1/actions/${encodeURIComponent(id)}/invoke`,
      input,
      onBehalfOf,
    );
    if (!res.ok) {
      throw await errorFrom(res, id);
    }
    const body = (await res.json()) as { output?: JsonObject };
    return { status: res.status, output: body.output ?? {} };
  }

  private async request(
    method: string,
    path: string,
    body?: JsonObject,
    onBehalfOf?: BackstageCredentials,
  ): Promise<Response> {
    const { token } = await this.auth.getPluginRequestToken({
      onBehalfOf: onBehalfOf ?? (await this.auth.getOwnServiceCredentials()),
      targetPluginId: this.pluginId,
    });
    const base = await this.discovery.getBaseUrl(this.pluginId);
    return fetch(`${base}/${path}`, {
      method,
      headers: {
        Accept: 'application/json',
        Authorization: `Bearer ${token}`,
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
  }
}

async function errorFrom(res: Response, actionId: string): Promise<Error> {
  const text = await res.text();
  let parsed: ErrorBody | undefined;
  try {
    parsed = JSON.parse(text) as ErrorBody;
  } catch {
    parsed = undefined;
  }
  const error = parsed?.error;
  if (!error?.message) {
    const snippet = text.trim().slice(0, 200);
    return new PavedActionError(
      actionId,
      res.status,
      res.statusText || 'Error',
      snippet || 'no error body',
    );
  }
  const fields = (error.fields ?? [])
    .filter(f => f.field || f.message)
    .map(f => `${f.field ?? '?'}: ${f.message ?? ''}`);
  const detail = fields.length
    ? `${error.message} [${fields.join('; ')}]`
    : error.message;
  return new PavedActionError(
    actionId,
    res.status,
    error.name ?? 'Error',
    detail,
  );
}
