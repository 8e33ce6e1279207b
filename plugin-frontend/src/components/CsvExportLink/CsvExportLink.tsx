import { errorApiRef, useApi } from '@backstage/core-plugin-api';
import { Link } from '@material-ui/core';
import { MouseEvent } from 'react';
import useAsync from 'react-use/esm/useAsync';
import { DevexList, DevexQuery, pavedApiRef } from '../../api';

/**
 * The name a list's CSV is saved under: paved-feedback-comments-2026-11-01-2026-11-28.csv;
 * a list that is "now" (slos, freshness) has no dates.
 */
export function csvFilename(list: DevexList, query: DevexQuery): string {
  return `${['paved', list.replace(/\//g, '-'), query.from, query.to].filter(Boolean).join('-')}.csv`;
}

/**
 * A link to a list as CSV. The href is paved's `format=csv` URL (to copy into
 * a script); a click downloads it through the fetch API instead, because a
 * plain navigation would not carry the user's Backstage token.
 */
export function CsvExportLink({ list, query }: { list: DevexList; query: DevexQuery }) {
  const paved = useApi(pavedApiRef);
  const errorApi = useApi(errorApiRef);
  const { value: href } = useAsync(() => paved.csvUrl(list, query), [paved, list, JSON.stringify(query)]);

  const download = async (event: MouseEvent) => {
    event.preventDefault();
    try {
      const csv = await paved.csv(list, query);
      const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
      const anchor = document.createElement('a');
      anchor.href = url;
      anchor.download = csvFilename(list, query);
      anchor.click();
      URL.revokeObjectURL(url);
    } catch (error) {
      errorApi.post(error as Error);
    }
  };

  return (
    <Link href={href} onClick={download} variant="body2" aria-label={`Export ${list.replace(/\//g, ' ')} as CSV`}>
      CSV
    </Link>
  );
}
