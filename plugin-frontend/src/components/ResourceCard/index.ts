export { PavedResource, ResourceCard, formatExpiry } from './ResourceCard';
export { EntityPavedResourceCard } from './EntityPavedResourceCard';
