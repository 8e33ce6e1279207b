export { DeploymentTiles, tierBands } from './DeploymentTiles';
