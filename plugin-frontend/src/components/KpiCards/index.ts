export { KpiCards } from './KpiCards';
