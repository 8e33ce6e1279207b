import { InfoCard } from '@backstage/core-components';
import { MissingAnnotationEmptyState, useEntity } from '@backstage/plugin-catalog-react';
import { ANNOTATION_COST_MONTHLY, ANNOTATION_INFRA_ID } from '../../annotations';
import { PavedResource } from './ResourceCard';

/** The Resource entity page's card of what paved provisioned. */
export function EntityPavedResourceCard() {
  const { entity } = useEntity();
  const id = entity.metadata.annotations?.[ANNOTATION_INFRA_ID];
  if (!id) return <MissingAnnotationEmptyState annotation={ANNOTATION_INFRA_ID} />;
  return (
    <InfoCard title="Provisioned by paved">
      <PavedResource id={id} cost={entity.metadata.annotations?.[ANNOTATION_COST_MONTHLY]} />
    </InfoCard>
  );
}
