export { AdoptionPage, AdoptionContent } from './AdoptionPage';
