export { SloPanel } from './SloPanel';
