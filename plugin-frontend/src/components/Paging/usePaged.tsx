import { TablePagination } from '@material-ui/core';
import { ReactNode, useState } from 'react';

/** Rows of a page, and the pagination under the list (none when one page holds every row). */
export type Paged<T> = { rows: T[]; pagination: ReactNode };

/**
 * One page of rows at a time: at scale (1,000 templates, 5,000 services) a
 * panel rendering every row holds the browser's main thread for seconds. The
 * CSV export still lists every row. id names the pagination's data-testid
 * (`${id}-pagination`).
 */
export function usePaged<T>(rows: T[], id: string, rowsPerPageDefault = 25): Paged<T> {
  const [page, setPage] = useState(0);
  const [rowsPerPage, setRowsPerPage] = useState(rowsPerPageDefault);
  if (rows.length <= rowsPerPageDefault) return { rows, pagination: null };
  // New answers may have fewer pages than the one shown.
  const current = Math.min(page, Math.ceil(rows.length / rowsPerPage) - 1);
  return {
    rows: rows.slice(current * rowsPerPage, (current + 1) * rowsPerPage),
    pagination: (
      <TablePagination
        component="div"
        count={rows.length}
        page={current}
        rowsPerPage={rowsPerPage}
        rowsPerPageOptions={[rowsPerPageDefault, 100]}
        onPageChange={(_, p) => setPage(p)}
        onRowsPerPageChange={e => {
          setRowsPerPage(Number(e.target.value));
          setPage(0);
        }}
        data-testid={`${id}-pagination`}
      />
    ),
  };
}
