import type pg from 'pg'
import { sqlFolder } from '../../db/sql-file.js'
import { type DumpObject, type DumpObjectKind, readDumpObjects } from './dump-objects.js'

const sqlFile = sqlFolder(new URL('../sql/', import.meta.url))

/**
 * What an operator class is made of, as pg_dump would restore it: its access method when that was made
 * with CREATE ACCESS METHOD, its family with the family's loose members, the operators and functions of
 * both. Types, domains and extensions are left out: they are what the indexed columns are, which the
 * table needs before it is created anyway.
 */
const MADE_WITH_CLASS: ReadonlySet<DumpObjectKind> = new Set([
  'function',
  'procedure',
  'operator',
  'operator family',
  'operator class',
  'access method',
])

/** What the operator classes of some indexes are made of, read from one server. */
export interface OperatorClassObjects {
  /** The schemas they were read from (those of the classes and of everything they are made of). */
  readonly schemas: readonly string[]
  /** Per operator class OID: the objects it needs and itself, each after what it uses. */
  readonly byClass: ReadonlyMap<number, readonly DumpObject[]>
}

/**
 * Reads, for each operator class in `classes` (OIDs), the objects that make it.
 * `client` should be inside a transaction (on the source: the run's snapshot).
 */
export async function readOperatorClassObjects(
  client: pg.ClientBase,
  classes: readonly number[],
): Promise<OperatorClassObjects> {
  const byClass = new Map<number, DumpObject[]>()
  if (classes.length === 0) return { schemas: [], byClass }
  const { rows } = await client.query<{ schema: string }>(sqlFile('list_operator_class_schemas'), [
    classes.map(String),
  ])
  const schemas = rows.map((row) => row.schema)
  const objects = await readDumpObjects(client, schemas)
  const byAddress = new Map(objects.map((o) => [o.address, o]))
  // pg_depend records no link between an operator and its commutator or negator: creating one makes the
  // other a shell, which only the other's own definition fills in. An oid is compared with an oid:
  // pg_catalog has no oid <> int4, and another role's in public would match `oprcom <> 0` better.
  const partners = await client.query<{ oid: string; com: string; neg: string }>(
    `SELECT o.oid::int8 AS oid, o.oprcom::int8 AS com, o.oprnegate::int8 AS neg
       FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
      WHERE n.nspname = ANY ($1::text[])
        AND (o.oprcom <> 0::pg_catalog.oid OR o.oprnegate <> 0::pg_catalog.oid)`,
    [schemas],
  )
  const partnersOf = new Map(
    partners.rows.map((r) => [`pg_operator:${r.oid}`, [`pg_operator:${r.com}`, `pg_operator:${r.neg}`]]),
  )
  for (const oid of classes) {
    const wanted = new Set<string>()
    const walk = (address: string) => {
      const object = byAddress.get(address)
      if (!object || !MADE_WITH_CLASS.has(object.kind) || wanted.has(address)) return
      wanted.add(address)
      for (const need of object.needs) walk(need)
      for (const partner of partnersOf.get(address) ?? []) walk(partner)
    }
    walk(`pg_opclass:${oid}`)
    // readDumpObjects' order already creates each object after those it needs
    byClass.set(
      oid,
      objects.filter((o) => wanted.has(o.address)),
    )
  }
  return { schemas, byClass }
}
