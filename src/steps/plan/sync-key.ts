import type { IndexInfo, TableInfo } from '../../catalog/catalog.js'
import { displayIdentifier, quoteIdent } from '../../db/table-ref.js'

/**
 * The columns a sync matches rows by: a primary key, or else a unique index on NOT NULL plain columns, of
 * the source table that the target table has too (a unique index on the same columns, NOT NULL there as
 * well). Both sides must hold it: the target's rows are deleted by key, which must hit one row, and the
 * source's rows are fetched by key, which must return one. Undefined when there is none.
 */
export function syncKeyOf(
  source: TableInfo,
  target: TableInfo,
  copied: ReadonlySet<string>,
): readonly string[] | undefined {
  const candidates = usableKeys(source)
    .filter((columns) => columns.every((name) => copied.has(name)))
    .sort((a, b) => a.length - b.length)
  const targetKeys = usableKeys(target).map((columns) => [...columns].sort().join('\u0000'))
  return candidates.find((columns) => targetKeys.includes([...columns].sort().join('\u0000')))
}

/** The key column lists of a table's usable unique indexes, the primary key first. */
function usableKeys(table: TableInfo): Array<readonly string[]> {
  const notNull = new Set(table.columns.filter((column) => column.notNull).map((column) => column.name))
  const usable = (index: IndexInfo) =>
    index.isUnique &&
    index.isValid &&
    index.keyColumns !== null &&
    index.keyColumns.length > 0 &&
    index.keyColumns.every((name) => notNull.has(name))
  return [...table.indexes]
    .filter(usable)
    .sort((a, b) => Number(b.isPrimary) - Number(a.isPrimary))
    .map((index) => index.keyColumns!)
}

/**
 * Why a table asked to sync has no key to sync by (syncKeyOf found none), short enough for plan's ACTION
 * column: the source has none (a primary key, or a unique index on NOT NULL columns), or the target lacks
 * the source's as a unique index.
 */
export function missingSyncKeyNote(source: TableInfo, copied: ReadonlySet<string>): string {
  const onSource = usableKeys(source).find((columns) => columns.every((name) => copied.has(name)))
  return onSource
    ? `sync → replace: the target has no unique index on (${onSource.map(displayIdentifier).join(', ')})`
    : 'sync → replace: no key on the source'
}

/**
 * What lets a table asked to sync, whose target table lacks the source's key, sync again: the statements
 * that give the target table that key as a unique index on NOT NULL columns (its rows are the source's, as
 * a replace left them, so they hold). Undefined when the source has no key either.
 */
export function targetKeyStatements(
  source: TableInfo,
  target: TableInfo,
  copied: ReadonlySet<string>,
): string[] | undefined {
  const onSource = usableKeys(source).find((columns) => columns.every((name) => copied.has(name)))
  if (!onSource) return undefined
  const nullable = target.columns.filter((column) => onSource.includes(column.name) && !column.notNull)
  return [
    ...nullable.map(
      (column) => `ALTER TABLE ${target.ref.sql} ALTER COLUMN ${quoteIdent(column.name)} SET NOT NULL`,
    ),
    `CREATE UNIQUE INDEX ON ${target.ref.sql} (${onSource.map(quoteIdent).join(', ')})`,
  ]
}
