export { TemplatesTable } from './TemplatesTable';
