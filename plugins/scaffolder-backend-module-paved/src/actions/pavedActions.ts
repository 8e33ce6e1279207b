import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { TemplateAction } from '@backstage/plugin-scaffolder-node';
import { JsonObject, JsonValue } from '@backstage/types';
import { PavedAction } from './PavedActionsClient';

/**
 * What the proxy actions need from paved.
 *
 * @public
 */
export interface PavedInvoker {
  /**
   * Runs paved's action `id` with `input`, on behalf of the user who started
   * the task when `onBehalfOf` is given; resolves to paved's status and output.
   */
  invoke(
    id: string,
    input: JsonObject,
    onBehalfOf?: BackstageCredentials,
  ): Promise<{ status: number; output: JsonObject }>;
}

const sensitiveKey = /token|secret|passw|credential|api[-_]?key|private[-_]?key|auth/i;
const maxLoggedChars = 2000;

/**
 * Renders a value for the task log with anything that looks like a secret
 * masked: the task log is readable by everyone who can see the task.
 *
 * @public
 */
export function redact(value: JsonValue | undefined): JsonValue | undefined {
  if (Array.isArray(value)) return value.map(v => redact(v) ?? null);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        sensitiveKey.test(k) ? '***' : redact(v as JsonValue) ?? null,
      ]),
    );
  }
  return value;
}

function forLog(value: JsonValue): string {
  const text = JSON.stringify(redact(value));
  return text.length > maxLoggedChars
    ? `${text.slice(0, maxLoggedChars)}… (${text.length} chars)`
    : text;
}

/**
 * The scaffolder id of a paved action: paved's own id, or `idPrefix` plus the
 * action's name when a prefix is configured.
 *
 * @public
 */
export function scaffolderActionId(action: PavedAction, idPrefix?: string): string {
  return idPrefix ? `${idPrefix}${action.name}` : action.id;
}

/**
 * Builds one classic scaffolder action per paved action. These are plain
 * TemplateAction objects rather than createTemplateAction results because
 * createTemplateAction only accepts zod schemas and would drop paved's JSON
 * Schemas.
 *
 * @public
 */
export function createPavedActions(
  actions: PavedAction[],
  paved: PavedInvoker,
  options: { idPrefix?: string } = {},
): TemplateAction<JsonObject, JsonObject, 'v2'>[] {
  return actions.map(action => {
    const id = scaffolderActionId(action, options.idPrefix);
    const readOnly = action.attributes?.readOnly ?? false;
    const destructive = action.attributes?.destructive ?? true;
    return {
      id,
      description: action.description ?? action.title,
      // The same rule as Backstage's actions registry: only actions that can
      // neither change nor destroy anything run during a dry run.
      supportsDryRun: readOnly && !destructive,
      schema: {
        input: action.schema?.input ?? { type: 'object' },
        output: action.schema?.output ?? { type: 'object' },
      },
      async handler(ctx) {
        ctx.logger.info(`Invoking paved action ${action.id} with input ${forLog(ctx.input)}`);
        const { status, output } = await paved.invoke(
          action.id,
          ctx.input,
          await ctx.getInitiatorCredentials(),
        );
        ctx.logger.info(`paved answered ${status} with output ${forLog(output)}`);
        for (const [key, value] of Object.entries(output)) {
          ctx.output(key, value);
        }
      },
    };
  });
}
