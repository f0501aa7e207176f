import type pg from 'pg'
import { sqlFolder } from '../../db/sql-file.js'

const sqlFile = sqlFolder(new URL('../sql/', import.meta.url))

/** The kinds of object whose owner and privileges `owners: keep` and `privileges: keep` carry over. */
export type OwnedObjectKind =
  | 'schema'
  | 'table'
  | 'partitioned table'
  | 'sequence'
  | 'view'
  | 'materialized view'
  | 'type'
  | 'domain'
  | 'function'
  | 'procedure'
  | 'aggregate'
  | 'operator'
  | 'operator class'
  | 'operator family'
  | 'collation'
  | 'text search configuration'
  | 'text search dictionary'
  | 'large object'

/** One privilege as `aclexplode` gives it: who granted what to whom (null: PUBLIC), with grant option or not. */
export type Grant = readonly [grantor: string, grantee: string | null, privilege: string, grantable: boolean]

/** One object with its owner and its privileges, as one server has them. */
export interface OwnedObject {
  readonly kind: OwnedObjectKind
  /** Only meaningful on the server it was read from. */
  readonly oid: number
  /** The schema (null for a large object) and name, which relations are matched to the run's tables by. */
  readonly schema: string | null
  readonly name: string
  /** What names it after ALTER … or GRANT … ON: `sales.orders`, `sales.total(integer)`, `app.ops USING btree`. */
  readonly identity: string
  readonly owner: string
  /** What is allowed (PostgreSQL's default for the kind when the catalog holds none); null: the kind has no privileges. */
  readonly acl: readonly Grant[] | null
  /** Column privileges of a relation, by column; only columns that have some. */
  readonly columns: Readonly<Record<string, readonly Grant[] | null>> | null
  /** A sequence that belongs to a table column: its owner is always its table's. */
  readonly linked: boolean
}

interface OwnedObjectRow {
  kind: OwnedObjectKind
  oid: string
  schema_name: string | null
  name: string
  identity: string
  owner: string
  acl: Grant[] | null
  columns: Record<string, Grant[] | null> | null
  linked: boolean
}

/**
 * Owners and privileges of the objects of `schemas` (and, with `largeObjects`, of the database's large
 * objects), in a form both servers can be compared by: role names, never OIDs.
 */
export async function readOwnedObjects(
  client: pg.ClientBase,
  schemas: readonly string[],
  options: { readonly largeObjects: boolean },
): Promise<OwnedObject[]> {
  // regprocedure, regtype and regoperator print a name schema-qualified only where the search path does not
  // reach it: an empty one makes every identity the same on both servers.
  await client.query(`SET search_path = ''`)
  try {
    const { rows } = await client.query<OwnedObjectRow>(sqlFile('list_owners_and_privileges'), [
      [...schemas],
      options.largeObjects,
    ])
    return rows.map((row) => ({
      kind: row.kind,
      oid: Number(row.oid),
      schema: row.schema_name,
      name: row.name,
      identity: row.identity,
      owner: row.owner,
      acl: row.acl,
      columns: row.columns,
      linked: row.linked,
    }))
  } finally {
    await client.query(`SET search_path = public`)
  }
}

/** `table sales.orders`: how reports name an object. */
export function describeOwned(object: Pick<OwnedObject, 'kind' | 'identity'>): string {
  return `${object.kind} ${object.identity}`
}
