export { AppList, EntityPavedAppCard } from './AppCard';
