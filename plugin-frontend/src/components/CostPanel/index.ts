export { CostPanel, formatMoney } from './CostPanel';
