import type pg from 'pg'
import { withEmptySearchPath } from '../db/database.js'
import { TableRef } from '../db/table-ref.js'
import { sqlFolder } from '../db/sql-file.js'

const sqlFile = sqlFolder(new URL('./sql/', import.meta.url))

/** A column of a view as the server describes it. */
export interface ViewColumn {
  readonly name: string
  /** format_type: `integer`, `character varying(10)`. */
  readonly type: string
  /** ALTER VIEW … ALTER COLUMN … SET DEFAULT: what an INSERT through the view fills in. */
  readonly default: string | null
  readonly comment: string | null
}

/** An index of a materialized view. */
export interface ViewIndex {
  readonly name: string
  /** pg_get_indexdef: `CREATE UNIQUE INDEX … ON sales.totals USING btree (…)`, schema-qualified. */
  readonly definition: string
  readonly comment: string | null
  readonly clustered: boolean
}

/** What a view's query reads: a relation (by its name) or a function outside pg_catalog. */
export interface ViewDependency {
  readonly kind: 'relation' | 'function'
  /** Its oid on the server it was read from. */
  readonly oid: number
  /** For a relation, its name. */
  readonly ref?: TableRef | undefined
  /** The schema of the relation or function. */
  readonly schema: string
  /** For a function: its signature, schema-qualified (`sales.total(integer)`). */
  readonly signature?: string | undefined
  /** The extension it belongs to, if any. */
  readonly extension: string | null
}

/** A view or materialized view, as creating an identical one needs it. */
export interface ViewInfo {
  readonly oid: number
  readonly ref: TableRef
  readonly kind: 'view' | 'materialized view'
  /** The query, as pg_get_viewdef prints it with every name schema-qualified. */
  readonly definition: string
  /** reloptions as `name=value` (security_barrier, security_invoker, check_option; storage settings). */
  readonly options: readonly string[]
  /** A materialized view holds data (was refreshed); a view always does. */
  readonly populated: boolean
  readonly comment: string | null
  readonly columns: readonly ViewColumn[]
  readonly indexes: readonly ViewIndex[]
  readonly dependencies: readonly ViewDependency[]
}

interface ViewRow {
  oid: string
  schema: string
  name: string
  kind: 'v' | 'm'
  definition: string
  options: string[] | null
  populated: boolean
  comment: string | null
  columns: ViewColumn[]
  indexes: ViewIndex[]
}

interface DependencyRow {
  view_oid: string
  kind: 'relation' | 'function'
  oid: string
  schema: string
  name: string
  extension: string | null
}

/**
 * Reads every view and materialized view outside the system schemas, with what each one reads. `client`
 * should be inside a transaction (on the source: the run's snapshot, so the definitions match the data).
 */
export async function readViews(client: pg.ClientBase): Promise<ViewInfo[]> {
  // pg_get_viewdef, pg_get_indexdef and regprocedure qualify a name only when the search path does not
  // reach it: with an empty one every statement built from them means the same on any target, whatever
  // the session's search_path there.
  return withEmptySearchPath(client, async () => {
    const views = await client.query<ViewRow>(sqlFile('list_views'))
    const dependencies = await client.query<DependencyRow>(sqlFile('list_view_dependencies'))
    const byView = new Map<number, ViewDependency[]>()
    for (const row of dependencies.rows) {
      const list = byView.get(Number(row.view_oid)) ?? []
      list.push(
        row.kind === 'relation'
          ? {
              kind: 'relation',
              oid: Number(row.oid),
              schema: row.schema,
              ref: new TableRef(row.schema, row.name),
              extension: row.extension,
            }
          : {
              kind: 'function',
              oid: Number(row.oid),
              schema: row.schema,
              signature: row.name,
              extension: row.extension,
            },
      )
      byView.set(Number(row.view_oid), list)
    }
    return views.rows.map((row) => ({
      oid: Number(row.oid),
      ref: new TableRef(row.schema, row.name),
      kind: row.kind === 'm' ? 'materialized view' : 'view',
      definition: row.definition,
      options: row.options ?? [],
      populated: row.populated,
      comment: row.comment,
      columns: row.columns,
      indexes: row.indexes,
      dependencies: byView.get(Number(row.oid)) ?? [],
    }))
  })
}

/** Of the function signatures given (schema-qualified, as `readViews` gives them), those the server lacks. */
export async function missingFunctions(
  client: pg.ClientBase,
  signatures: readonly string[],
): Promise<Set<string>> {
  if (signatures.length === 0) return new Set()
  const { rows } = await client.query<{ signature: string }>(
    `SELECT s AS signature FROM pg_catalog.unnest($1::text[]) AS s WHERE pg_catalog.to_regprocedure(s) IS NULL`,
    [[...signatures]],
  )
  return new Set(rows.map((r) => r.signature))
}

/** A relation that reads another through a rule (a view on a view), as `readDependents` lists them. */
export interface ViewDependent {
  readonly ref: TableRef
  /** pg_class.relkind: `v`, `m`, or `r` for a table whose rule names it. */
  readonly kind: string
}

/** What reads `ref` through a rule on this server, at any depth, deepest first (the order to drop them in). */
export async function readDependents(client: pg.ClientBase, ref: TableRef): Promise<ViewDependent[]> {
  const { rows } = await client.query<{ schema: string; name: string; kind: string }>(
    sqlFile('list_view_dependents'),
    [ref.sql],
  )
  return rows.map((row) => ({ ref: new TableRef(row.schema, row.name), kind: row.kind }))
}
