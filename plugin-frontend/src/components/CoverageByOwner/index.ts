export { CoverageByOwner } from './CoverageByOwner';
