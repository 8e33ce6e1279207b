export interface Config {
  paved?: {
    actions?: {
      /**
       * Prefix of the scaffolder action ids this module registers, in place
       * of paved's own `paved:`. Set it (for example to `paved-proxy:`) when
       * paved is also listed in `backend.actions.pluginSources`, so the two
       * paths do not register the same ids. Defaults to paved's ids as they are.
       */
      idPrefix?: string;
    };
  };
}
