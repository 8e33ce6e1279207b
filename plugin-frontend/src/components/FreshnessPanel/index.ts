export { FreshnessPanel } from './FreshnessPanel';
