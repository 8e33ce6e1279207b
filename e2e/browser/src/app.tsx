// A Backstage app (legacy frontend system) with only paved's plugin
// installed, as an adopter installs it: the plugin's own API factory builds
// PavedClient on the app's discovery and fetch APIs. Configuration comes
// from the page's <script type="backstage.io/config"> tag, written by the
// server that serves this bundle, so one bundle works on any port and
// carries no token.
import { createApp } from '@backstage/app-defaults';
import { AppRouter, FlatRoutes } from '@backstage/core-app-api';
import { AlertDisplay } from '@backstage/core-components';
import { EntityPage } from './EntityPage';
import { PavedAdoptionPage, pavedPlugin } from '@paved/plugin-paved';
import { createRoot } from 'react-dom/client';
import { Navigate, Route } from 'react-router-dom';

const app = createApp({ plugins: [pavedPlugin] });

const App = app.createRoot(
  <>
    <AlertDisplay />
    <AppRouter>
      <FlatRoutes>
        <Route path="/" element={<Navigate to="paved" />} />
        <Route path="/paved" element={<PavedAdoptionPage />} />
        <Route path="/catalog/:namespace/:kind/:name" element={<EntityPage />} />
      </FlatRoutes>
    </AppRouter>
  </>,
);

createRoot(document.getElementById('root')!).render(<App />);
