import { Entity } from '@backstage/catalog-model';

/**
 * The annotation paved's catalog provider puts on the Resource of what it provisioned.
 *
 * @public
 */
export const ANNOTATION_INFRA_ID = 'paved.dev/infra-id';

/**
 * What such a resource costs per month, "480 USD".
 *
 * @public
 */
export const ANNOTATION_COST_MONTHLY = 'paved.dev/cost-monthly';

/**
 * Whether paved provisioned the entity (a Resource with `paved.dev/infra-id`),
 * for `<EntitySwitch.Case if={isPavedResourceAvailable}>`.
 *
 * @public
 */
export function isPavedResourceAvailable(entity: Entity): boolean {
  return Boolean(entity.metadata.annotations?.[ANNOTATION_INFRA_ID]);
}
