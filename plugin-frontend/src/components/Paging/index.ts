export { usePaged } from './usePaged';
