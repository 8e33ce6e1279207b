export { CsvExportLink } from './CsvExportLink';
