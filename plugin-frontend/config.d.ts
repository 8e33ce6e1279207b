export interface Config {
  /**
   * The adoption page has no settings of its own: it finds paved through
   * discovery (plugin id `paved`), e.g.
   * `discovery.endpoints: [{target: 'http://paved:7010/api/{{pluginId}}', plugins: [paved]}]`.
   */
  paved?: {};
}
