import { Content, Header, Page } from '@backstage/core-components';
import { Grid } from '@material-ui/core';
import { useParams } from 'react-router-dom';
import { ResourceCard } from '../ResourceCard';

/**
 * One resource paved provisioned, at `/paved/resources/:id`: where the
 * templates' output links point (the id is `paved:provision-infra`'s `id`
 * output), so the owner reads the connection details in Backstage.
 */
export function ResourceContent() {
  const { id = '' } = useParams();
  return (
    <Grid container>
      <Grid item xs={12} md={8}>
        <ResourceCard id={id} title={`Resource ${id}`} />
      </Grid>
    </Grid>
  );
}

/** ResourceContent with the page around it (legacy frontend system). */
export function ResourcePage() {
  return (
    <Page themeId="tool">
      <Header title="Provisioned resource" subtitle="Infrastructure a golden path made, managed by paved" />
      <Content>
        <ResourceContent />
      </Content>
    </Page>
  );
}
