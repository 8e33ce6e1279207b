export { AdoptionChart } from './AdoptionChart';
