import { Route, Routes } from 'react-router-dom';
import { AdoptionPage } from './AdoptionPage';
import { ResourcePage } from './ResourcePage';

/** The pages under `/paved` (legacy frontend system): adoption, and one resource. */
export function Router() {
  return (
    <Routes>
      <Route path="/" element={<AdoptionPage />} />
      <Route path="/resources/:id" element={<ResourcePage />} />
    </Routes>
  );
}
