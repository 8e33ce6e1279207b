export { FourKeysPanel, FourKeysTiles, doraTierLabels, keyFigures } from './FourKeysPanel';
