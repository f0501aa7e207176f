import type pg from 'pg'
import { sqlFolder } from '../db/sql-file.js'

const sqlFile = sqlFolder(new URL('./sql/', import.meta.url))

/** How a key column's values are compared: its unique index's `=`, schema-qualified (list_key_equality.sql). */
export interface KeyEquality {
  /** The operator's schema, quoted. */
  readonly schema: string
  /** The operator class's input type, when the column's type differs from it (a domain, varchar for text). */
  readonly castTo: string | null
}

/** The `=` pg_catalog has for every type it can compare, where no index says otherwise. */
const CATALOG_EQUALITY: KeyEquality = { schema: 'pg_catalog', castTo: null }

/**
 * The equality operator of each of `key`'s columns, as the unique index of `table` (a TableRef's SQL) on
 * exactly those columns uses it: what a sync matches rows by, with the index's plans.
 */
export async function keyEqualityOf(
  client: pg.ClientBase,
  table: string,
  key: readonly string[],
): Promise<ReadonlyMap<string, KeyEquality>> {
  const { rows } = await client.query<{
    index: string
    name: string
    schema: string
    cast_to: string | null
  }>(sqlFile('list_key_equality'), [table])
  const byIndex = new Map<string, typeof rows>()
  for (const row of rows) byIndex.set(row.index, [...(byIndex.get(row.index) ?? []), row])
  const wanted = [...key].sort().join('\u0000')
  const index = [...byIndex.values()].find(
    (columns) =>
      columns
        .map((column) => column.name)
        .sort()
        .join('\u0000') === wanted,
  )
  return new Map(
    key.map((name) => {
      const column = index?.find((row) => row.name === name)
      return [name, column ? { schema: column.schema, castTo: column.cast_to } : CATALOG_EQUALITY]
    }),
  )
}

/** `a = b` under `equality`, which no role's objects in the search path can take over. */
export function keyEquals(a: string, b: string, equality: KeyEquality | undefined): string {
  const { schema, castTo } = equality ?? CATALOG_EQUALITY
  return castTo ? `${a}::${castTo} OPERATOR(${schema}.=) ${b}::${castTo}` : `${a} OPERATOR(${schema}.=) ${b}`
}
