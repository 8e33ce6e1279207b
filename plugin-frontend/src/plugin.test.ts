import { pavedPlugin } from './plugin';
import alphaPlugin from './alpha';

describe('paved frontend plugin', () => {
  it('is the paved plugin in both frontend systems', () => {
    expect(pavedPlugin.getId()).toBe('paved');
    expect(alphaPlugin.pluginId).toBe('paved');
    expect(alphaPlugin.getExtension('page:paved')).toBeDefined();
    expect(alphaPlugin.getExtension('api:paved')).toBeDefined();
    expect(alphaPlugin.getExtension('page:paved/resource')).toBeDefined();
    expect(alphaPlugin.getExtension('page:paved/approvals')).toBeDefined();
    expect(alphaPlugin.getExtension('page:paved/approval')).toBeDefined();
    expect(alphaPlugin.getExtension('entity-card:paved/app')).toBeDefined();
    expect(alphaPlugin.getExtension('entity-card:paved/resource')).toBeDefined();
  });

  it('names the routes the templates link to', () => {
    expect(Object.keys(pavedPlugin.routes).sort()).toEqual(['approval', 'resource', 'root']);
    expect(Object.keys(alphaPlugin.routes).sort()).toEqual(['approval', 'approvals', 'resource', 'root']);
  });

  it('provides the paved API in the legacy system', () => {
    expect([...pavedPlugin.getApis()].map(f => f.api.id)).toEqual(['plugin.paved.api']);
  });
});
