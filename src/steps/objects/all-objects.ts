import {
  type DumpObject,
  type DumpObjectKind,
  readDumpObjects,
  readTextSearchUsedBy,
} from '../../catalog/objects/dump-objects.js'
import type pg from 'pg'
import type { Database } from '../../db/database.js'
import { quoteIdent } from '../../db/table-ref.js'
import type { RunPlan } from '../plan/planner.js'
import type { Snapshot } from '../snapshot.js'
import { LargeObjectCopier } from './large-objects.js'
import { ObjectBuilder, type ObjectOutcome } from './object-builder.js'

/** The schemas `objects: all` brings objects of: those of the tables (and sequences) the run copies. */
export function copiedSchemas(plan: RunPlan): string[] {
  const schemas = new Set<string>()
  for (const table of plan.tables)
    if (table.source.kind === 'table') schemas.add(table.source.table.ref.schema)
  for (const table of plan.emptyPartitioned) schemas.add(table.ref.schema)
  for (const sequence of plan.sequences) schemas.add(sequence.ref.schema)
  return [...schemas].sort()
}

/** What `objects: all` would bring, read in the run's snapshot (what `plan` lists). */
export function readAllObjects(snapshot: Snapshot, plan: RunPlan): Promise<DumpObject[]> {
  return snapshot.read((client) => readDumpObjects(client, copiedSchemas(plan)))
}

/**
 * Kinds a table can use that the schema step does not make for it: a column default, generated column or
 * index that calls `to_tsvector('app.english_cfg', …)` names a text search configuration, which needs its
 * parser and dictionaries, which need their templates. pg_dump restores them before the tables; so does
 * `objects: all`, with what they need.
 */
const BEFORE_TABLES: ReadonlySet<DumpObjectKind> = new Set<DumpObjectKind>([
  'text search parser',
  'text search template',
  'text search dictionary',
  'text search configuration',
])

/**
 * `objects: all`: the copied tables' schemas' functions, procedures, aggregates, types, domains, casts,
 * extensions, collations and text search objects, then the database's large objects. Every object has
 * its own outcome; none ends the run. Text search objects (and what they need) come before the schema step
 * creates the tables (`beforeTables`), the rest after it (`afterTables`), once the tables' own types and
 * functions (and collations) exist: an object a table needs is then found there and left as it is.
 */
export class AllObjectsBuilder {
  private constructor(
    private readonly options: AllObjectsOptions,
    private readonly schemas: readonly string[],
    private readonly first: readonly DumpObject[],
    private readonly rest: readonly DumpObject[],
    private readonly largeObjects: boolean,
    private readonly builder: ObjectBuilder,
  ) {}

  /** Reads what `objects: all` brings, in the run's snapshot. */
  static async read(options: AllObjectsOptions): Promise<AllObjectsBuilder> {
    const { snapshot, target, plan, signal } = options
    const objects = await readAllObjects(snapshot, plan)
    const first = closure(
      objects,
      objects.filter((o) => BEFORE_TABLES.has(o.kind)),
    )
    return new AllObjectsBuilder(
      options,
      copiedSchemas(plan),
      objects.filter((o) => first.has(o.address)),
      objects.filter((o) => !first.has(o.address)),
      true,
      new ObjectBuilder({ targetDb: target, signal }),
    )
  }

  /**
   * With `objects: tables`: only the text search configurations and dictionaries the copied tables name
   * (and what they need), wherever they live, as the schema step brings the types and functions they use.
   */
  static async readUsedByTables(options: AllObjectsOptions): Promise<AllObjectsBuilder> {
    const { snapshot, target, plan, signal } = options
    const { objects, schemas } = await snapshot.read((client) => readTextSearchUsedByTables(client, plan))
    return new AllObjectsBuilder(
      options,
      schemas,
      objects,
      [],
      false,
      new ObjectBuilder({ targetDb: target, signal }),
    )
  }

  /** The objects tables may use that the schema step does not make, in their schemas (created if missing). */
  async beforeTables(): Promise<ObjectOutcome[]> {
    if (this.first.length === 0) return []
    const { target, signal } = this.options
    await target.withTransaction(
      async (client) => {
        // Only those missing: CREATE SCHEMA checks the database's CREATE privilege before IF NOT EXISTS.
        for (const schema of this.schemas) {
          const { rows } = await client.query<{ found: boolean }>(
            'SELECT pg_catalog.to_regnamespace($1) IS NOT NULL AS found',
            [quoteIdent(schema)],
          )
          if (!rows[0]!.found) await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`)
        }
      },
      { signal },
    )
    return this.builder.build(this.first, this.schemas)
  }

  /** Everything else, and the large objects. */
  async afterTables(): Promise<ObjectOutcome[]> {
    const { snapshot, source, target, signal } = this.options
    const built = this.rest.length > 0 ? await this.builder.build(this.rest, this.schemas) : []
    if (!this.largeObjects) return built
    const large = await new LargeObjectCopier({
      sourceDb: source,
      targetDb: target,
      beginSource: (client) => snapshot.begin(client),
      signal,
    }).copyAll()
    return [...built, ...large]
  }
}

export interface AllObjectsOptions {
  readonly snapshot: Snapshot
  readonly source: Database
  readonly target: Database
  readonly plan: RunPlan
  readonly signal?: AbortSignal | undefined
}

/**
 * The text search objects the plan's tables (and the tables above them) name, with what they need, in
 * creation order, and their schemas. `client` should be in the run's snapshot.
 */
export async function readTextSearchUsedByTables(
  client: pg.ClientBase,
  plan: RunPlan,
): Promise<{ objects: DumpObject[]; schemas: string[] }> {
  const tables = [
    ...plan.tables.flatMap((t) => (t.source.kind === 'table' ? [t.source.table.oid] : [])),
    ...plan.emptyPartitioned.map((t) => t.oid),
  ]
  const { addresses, schemas } = await readTextSearchUsedBy(client, tables)
  if (schemas.length === 0) return { objects: [], schemas }
  const objects = await readDumpObjects(client, schemas)
  const used = new Set(addresses)
  const wanted = closure(
    objects,
    objects.filter((o) => used.has(o.address)),
  )
  return { objects: objects.filter((o) => wanted.has(o.address)), schemas }
}

/** Addresses of `wanted` and of every object of `objects` they need, transitively. */
function closure(objects: readonly DumpObject[], wanted: readonly DumpObject[]): Set<string> {
  const byAddress = new Map(objects.map((o) => [o.address, o]))
  const addresses = new Set<string>()
  const add = (object: DumpObject) => {
    if (addresses.has(object.address)) return
    addresses.add(object.address)
    for (const need of object.needs) {
      const needed = byAddress.get(need)
      if (needed) add(needed)
    }
  }
  for (const object of wanted) add(object)
  return addresses
}
