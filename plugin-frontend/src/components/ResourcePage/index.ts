export { ResourceContent, ResourcePage } from './ResourcePage';
