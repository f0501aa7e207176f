import { type DumpObject, readDumpObjects } from '../../catalog/objects/dump-objects.js'
import type { Database } from '../../db/database.js'
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
 * `objects: all`: the copied tables' schemas' functions, procedures, aggregates, types, domains, casts and
 * extensions, then the database's large objects. Every object has its own outcome; none ends the run.
 */
export async function buildAllObjects(options: {
  readonly snapshot: Snapshot
  readonly source: Database
  readonly target: Database
  readonly plan: RunPlan
  readonly signal?: AbortSignal | undefined
}): Promise<ObjectOutcome[]> {
  const { snapshot, source, target, plan, signal } = options
  const objects = await readAllObjects(snapshot, plan)
  const built = await new ObjectBuilder({ targetDb: target, signal }).build(objects, copiedSchemas(plan))
  const large = await new LargeObjectCopier({
    sourceDb: source,
    targetDb: target,
    beginSource: (client) => snapshot.begin(client),
    signal,
  }).copyAll()
  return [...built, ...large]
}
