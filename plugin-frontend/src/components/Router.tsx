import { Route, Routes } from 'react-router-dom';
import { AdoptionPage } from './AdoptionPage';
import { ApprovalPage } from './ApprovalPage';
import { ResourcePage } from './ResourcePage';

/** The pages under `/paved` (legacy frontend system): adoption, one resource, approval requests. */
export function Router() {
  return (
    <Routes>
      <Route path="/" element={<AdoptionPage />} />
      <Route path="/resources/:id" element={<ResourcePage />} />
      <Route path="/approvals" element={<ApprovalPage />} />
      <Route path="/approvals/:id" element={<ApprovalPage />} />
    </Routes>
  );
}
