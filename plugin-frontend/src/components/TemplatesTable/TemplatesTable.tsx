import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TableSortLabel,
  Typography,
} from '@material-ui/core';
import { useMemo, useState } from 'react';
import { TemplateStats } from '../../api';
import { usePaged } from '../Paging';
import { formatCount, formatDuration, formatRatio, refName } from '../format';

type Column = {
  key: keyof TemplateStats;
  label: string;
  format: (row: TemplateStats) => string;
};

const columns: Column[] = [
  { key: 'templateRef', label: 'Template', format: r => refName(r.templateRef) },
  { key: 'runs', label: 'Runs', format: r => formatCount(r.runs) },
  { key: 'successRate', label: 'Success', format: r => formatRatio(r.successRate) },
  { key: 'p50DurationSeconds', label: 'p50 duration', format: r => formatDuration(r.p50DurationSeconds) },
  { key: 'p95DurationSeconds', label: 'p95 duration', format: r => formatDuration(r.p95DurationSeconds) },
  { key: 'uniqueUsers', label: 'Unique users', format: r => formatCount(r.uniqueUsers) },
  { key: 'timeSavedSeconds', label: 'Time saved', format: r => formatDuration(r.timeSavedSeconds) },
];

/** One row per template, sortable by any column; most runs first, a page at a time. */
export function TemplatesTable({ items }: { items: TemplateStats[] }) {
  const [sort, setSort] = useState<{ key: keyof TemplateStats; desc: boolean }>({
    key: 'runs',
    desc: true,
  });
  const sorted = useMemo(
    () =>
      [...items].sort((a, b) => {
        const x = a[sort.key];
        const y = b[sort.key];
        const order = typeof x === 'string' ? x.localeCompare(String(y)) : Number(x) - Number(y);
        return sort.desc ? -order : order;
      }),
    [items, sort],
  );
  const { rows, pagination } = usePaged(sorted, 'templates');
  if (items.length === 0) {
    return <Typography color="textSecondary">No template was run in this period.</Typography>;
  }
  return (
    <>
      <Table size="small" aria-label="Template runs per template">
        <TableHead>
          <TableRow>
            {columns.map(c => (
              <TableCell key={c.key} align={c.key === 'templateRef' ? 'left' : 'right'}>
                <TableSortLabel
                  active={sort.key === c.key}
                  direction={sort.key === c.key && sort.desc ? 'desc' : 'asc'}
                  onClick={() =>
                    setSort(s => ({ key: c.key, desc: s.key === c.key ? !s.desc : true }))
                  }
                >
                  {c.label}
                </TableSortLabel>
              </TableCell>
            ))}
          </TableRow>
        </TableHead>
        <TableBody>
          {rows.map(row => (
            <TableRow key={row.templateRef}>
              {columns.map(c => (
                <TableCell
                  key={c.key}
                  align={c.key === 'templateRef' ? 'left' : 'right'}
                  title={c.key === 'templateRef' ? row.templateRef : undefined}
                >
                  {c.format(row)}
                </TableCell>
              ))}
            </TableRow>
          ))}
        </TableBody>
      </Table>
      {pagination}
    </>
  );
}
