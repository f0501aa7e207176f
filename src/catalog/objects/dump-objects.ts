import type pg from 'pg'
import { sqlFolder } from '../../db/sql-file.js'
import { baseTypeProblem, baseTypeStatements } from '../base-type.js'
import type { BaseTypeDefinition } from '../catalog.js'

const sqlFile = sqlFolder(new URL('../sql/', import.meta.url))

/** The kinds of object `objects: all` brings besides tables and views. */
export type DumpObjectKind =
  | 'extension'
  | 'function'
  | 'procedure'
  | 'aggregate'
  | 'type'
  | 'domain'
  | 'operator'
  | 'operator family'
  | 'operator class'
  | 'cast'
  | 'collation'
  | 'text search parser'
  | 'text search template'
  | 'text search dictionary'
  | 'text search configuration'
  | 'access method'

/** A function a text search parser or template is made of: it must exist before them. */
export interface SupportFunction {
  /** `pg_catalog.dsimple_init(internal)` (unqualified in pg_catalog), as regprocedure writes it. */
  readonly signature: string
  readonly language: string
  /** For a function written in C: the library it lives in (`$libdir/dict_snowball`). */
  readonly library: string | null
}
/** One object as pg_dump would restore it: what it is, how to create it, and what it needs first. */
export interface DumpObject {
  readonly kind: DumpObjectKind
  /** Its address in pg_depend: `pg_proc:16384`. Only meaningful on the server it was read from. */
  readonly address: string
  /** What names it after COMMENT ON: `FUNCTION sales.total(integer)`, `CAST (sales.money AS numeric)`. */
  readonly identity: string
  /** The statement that creates it, schema-qualified throughout. */
  readonly definition: string
  readonly comment: string | null
  /** For an extension: its name. */
  readonly extension: string | null
  /**
   * Why it cannot be created on another server whatever that one holds (a base type written in C names the
   * library it needs); it still counts as there when the target has it with the same definition.
   */
  readonly problem?: string | undefined
  /** Addresses of the objects of the same list that must exist before it. */
  readonly needs: readonly string[]
  /** The first PostgreSQL (server_version_num) that accepts the definition, and what needs it. */
  readonly needsVersion?: { readonly version: number; readonly feature: string } | undefined
  /** For a text search parser or template: the functions it is made of. */
  readonly supportFunctions?: readonly SupportFunction[] | undefined
}

interface ObjectRow {
  kind: DumpObjectKind
  class: string
  oid: string
  identity: string
  definition: string | null
  comment: string | null
  extension: string | null
  needs_version?: number | null
  needs_feature?: string | null
  support_functions?: [signature: string, language: string, library: string | null][] | null
  problem?: string | undefined
}

interface BaseTypeRow {
  kind: 'type'
  class: string
  oid: string
  identity: string
  name: string
  comment: string | null
  base: BaseTypeDefinition
}

interface DependencyRow {
  class: string
  oid: string
  ref_class: string
  ref_oid: string
}

/**
 * Reads the objects of `schemas` that `objects: all` brings, and the database's access methods made with
 * CREATE ACCESS METHOD, in an order that creates each one after what it uses (pg_depend), kinds otherwise
 * in pg_dump's order: extensions, collations, types, functions, aggregates, operators and access methods,
 * text search parsers and templates, dictionaries, operator families, configurations and operator
 * classes, casts.
 * `client` should be inside a transaction (on the source: the run's snapshot).
 */
export async function readDumpObjects(
  client: pg.ClientBase,
  schemas: readonly string[],
): Promise<DumpObject[]> {
  // Every name the server prints (regprocedure, format_type, pg_get_functiondef) comes schema-qualified
  // only when the search path does not reach it; an empty one makes the statements work on any target.
  await client.query(`SET search_path = ''`)
  const objects = await client.query<ObjectRow>(sqlFile('list_dump_objects'), [[...schemas]])
  const collationsAndTextSearch = await client.query<ObjectRow>(
    sqlFile('list_dump_collations_and_text_search'),
    [[...schemas]],
  )
  const accessMethods = await client.query<ObjectRow>(sqlFile('list_dump_access_methods'))
  const baseTypes = await client.query<BaseTypeRow>(sqlFile('list_dump_base_types'), [[...schemas]])
  const dependencies = await client.query<DependencyRow>(sqlFile('list_dump_object_dependencies'))
  await client.query(`SET search_path = public`)
  const byAddress = new Map<string, ObjectRow>()
  const rows = [
    ...objects.rows,
    ...collationsAndTextSearch.rows,
    ...accessMethods.rows,
    ...baseTypes.rows.map(baseTypeObject),
  ]
  for (const row of rows) if (row.definition !== null) byAddress.set(`${row.class}:${row.oid}`, row)
  const needs = new Map<string, Set<string>>()
  for (const d of dependencies.rows) {
    const from = `${d.class}:${d.oid}`
    const to = `${d.ref_class}:${d.ref_oid}`
    if (from === to || !byAddress.has(from) || !byAddress.has(to)) continue
    let set = needs.get(from)
    if (!set) needs.set(from, (set = new Set()))
    set.add(to)
  }
  const list = [...byAddress].map(([address, row]): DumpObject => ({
    kind: row.kind,
    address,
    identity: row.identity,
    definition: row.definition!,
    comment: row.comment,
    extension: row.extension,
    problem: row.problem,
    needs: [...(needs.get(address) ?? [])],
    needsVersion:
      row.needs_version && row.needs_feature
        ? { version: Number(row.needs_version), feature: row.needs_feature }
        : undefined,
    supportFunctions: row.support_functions?.map(([signature, language, library]) => ({
      signature,
      language,
      library,
    })),
  }))
  return dependencyOrder(list)
}

/**
 * A base type's row as the other kinds': its definition is the statements that make it (shell type, I/O
 * functions, CREATE TYPE), written by the same code that makes a base type a copied table uses. SUBSCRIPT
 * is written whenever the source has it: an older target refuses it, and the type fails with that reason.
 */
function baseTypeObject(row: BaseTypeRow): ObjectRow {
  return {
    kind: 'type',
    class: row.class,
    oid: row.oid,
    identity: row.identity,
    definition: baseTypeStatements(row.name, row.base, 180000).join(';\n'),
    comment: row.comment,
    extension: null,
    problem: baseTypeProblem(row.name, row.base),
  }
}

const KIND_RANK: Record<DumpObjectKind, number> = {
  extension: 0,
  collation: 1,
  type: 1,
  domain: 1,
  function: 2,
  procedure: 2,
  aggregate: 3,
  operator: 3,
  'text search parser': 3,
  'text search template': 3,
  'text search dictionary': 4,
  'text search configuration': 5,
  'operator family': 4,
  'operator class': 5,
  cast: 6,
  // after the functions that may be their handlers, before the operator classes and families that use them
  'access method': 3,
}

/**
 * Orders objects so that each comes after those it needs; among those ready at once, by kind then name.
 * Objects caught in a cycle (which pg_depend should never hold between these kinds) come last, in the same
 * order, and fail with the server's own message if they really cannot be created.
 */
export function dependencyOrder(objects: readonly DumpObject[]): DumpObject[] {
  const pending = [...objects].sort(
    (a, b) => KIND_RANK[a.kind] - KIND_RANK[b.kind] || a.identity.localeCompare(b.identity),
  )
  const placed = new Set<string>()
  const ordered: DumpObject[] = []
  while (pending.length > 0) {
    const index = pending.findIndex((o) => o.needs.every((n) => placed.has(n)))
    const next = pending.splice(index === -1 ? 0 : index, 1)[0]!
    placed.add(next.address)
    ordered.push(next)
  }
  return ordered
}

/**
 * The text search configurations and dictionaries that `tables` (by OID, and the tables above them) name in
 * defaults, generated columns, indexes, constraints or policies: their pg_depend addresses and schemas.
 */
export async function readTextSearchUsedBy(
  client: pg.ClientBase,
  tables: readonly number[],
): Promise<{ addresses: string[]; schemas: string[] }> {
  const { rows } = await client.query<{ class: string; oid: string; schema: string }>(
    sqlFile('list_text_search_used'),
    [[...tables]],
  )
  return {
    addresses: rows.map((row) => `${row.class}:${row.oid}`),
    schemas: [...new Set(rows.map((row) => row.schema))],
  }
}
