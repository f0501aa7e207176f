import type pg from 'pg'
import type { Catalog, TableInfo } from '../../catalog/catalog.js'
import {
  type OperatorClassObjects,
  readOperatorClassObjects,
} from '../../catalog/objects/operator-class-objects.js'
import type { DumpObject } from '../../catalog/objects/dump-objects.js'
import type { Database } from '../../db/database.js'
import { quoteIdent } from '../../db/table-ref.js'
import { TablehaulError } from '../../errors.js'
import { ObjectBuilder, type ObjectOutcome, type TargetObjects } from '../objects/object-builder.js'
import type { Snapshot } from '../snapshot.js'

/**
 * The operator classes the indexes of the tables a run creates use, where they were made with CREATE
 * OPERATOR CLASS (with their families, operators, functions and access method). pg_get_indexdef names a
 * column's class only when it is not the default for the column's type, so an index made from it on a
 * target without the class either fails (a class it names) or silently gets the target's default (a
 * class it leaves out: an enum's would then sort as enum_ops does). The schema step makes them on the
 * target before each table that needs them, as pg_dump restores them before the index; a table whose
 * class cannot be made the source's fails, named with the reason, instead of getting other indexes.
 */
export class IndexOperatorClasses {
  /** Addresses of the objects the target has as the source does (made, or there already). */
  private readonly made = new Set<string>()
  /** Addresses of those it cannot have, with their identity (ObjectBuilder fails what needs them). */
  private readonly failed = new Map<string, string>()
  /** Why each of those cannot be had. */
  private readonly reasons = new Map<string, string>()
  /** What became of each object tried, in order. */
  readonly outcomes: ObjectOutcome[] = []
  private readonly builder: ObjectBuilder

  private constructor(
    private readonly source: OperatorClassObjects,
    private readonly existing: TargetObjects,
    targetDb: Database,
    private readonly replaceRoutines: boolean,
  ) {
    this.builder = new ObjectBuilder({ targetDb })
  }

  /**
   * Reads what the operator classes of `tables`' indexes (and of their partitioned and inheritance
   * parents', which the schema step may create too) are made of, in the run's snapshot, and what the
   * target has of it. Undefined when no index uses such a class. `replaceRoutines` (objects: all): a
   * function the target has otherwise is replaced, as that option does; else the table fails.
   */
  static async read(options: {
    readonly snapshot: Snapshot
    readonly catalog: Catalog
    readonly targetDb: Database
    readonly tables: readonly TableInfo[]
    readonly replaceRoutines: boolean
  }): Promise<IndexOperatorClasses | undefined> {
    const { snapshot, catalog, targetDb, tables, replaceRoutines } = options
    const classes = new Set<number>()
    const seen = new Set<number>()
    const add = (table: TableInfo) => {
      if (seen.has(table.oid)) return
      seen.add(table.oid)
      for (const index of table.indexes) for (const oid of index.operatorClasses) classes.add(oid)
      for (const parent of catalog.parents(table)) add(parent)
    }
    for (const table of tables) add(table)
    if (classes.size === 0) return undefined
    const source = await snapshot.read((client) => readOperatorClassObjects(client, [...classes]))
    const existing = await new ObjectBuilder({ targetDb }).readTarget(source.schemas)
    return new IndexOperatorClasses(source, existing, targetDb, replaceRoutines)
  }

  /**
   * Makes on the target, through `client` (in the schema step's transaction), what `table`'s indexes need;
   * returns the error that fails the table, or undefined.
   */
  async ensure(client: pg.ClientBase, table: TableInfo): Promise<TablehaulError | undefined> {
    for (const index of table.indexes) {
      for (const oid of index.operatorClasses) {
        for (const object of this.source.byClass.get(oid) ?? []) {
          const reason = await this.ensureOne(client, object)
          if (reason === undefined) continue
          return new TablehaulError('SCHEMA_FAILED', `its index ${quoteIdent(index.name)} needs ${reason}`, {
            hint: `make ${object.identity} on the target as the source has it (or drop the target's, which a run then makes), then run again`,
          })
        }
      }
    }
    return undefined
  }

  /** One object, once per run: undefined when the target has it as the source does, else why not. */
  private async ensureOne(client: pg.ClientBase, object: DumpObject): Promise<string | undefined> {
    if (this.made.has(object.address)) return undefined
    const known = this.reasons.get(object.address)
    if (known !== undefined) return known
    const there = this.existing.objects.get(object.identity)
    const routine = object.kind === 'function' || object.kind === 'procedure'
    let reason: string | undefined
    if (there && there.definition !== object.definition && !(routine && this.replaceRoutines)) {
      reason = `${object.identity}, which the target has with another definition`
      this.outcomes.push({ kind: object.kind, identity: object.identity, status: 'different', reason })
    } else {
      const outcome = await this.builder.buildOne(client, object, this.existing, this.failed)
      this.outcomes.push(outcome)
      if (outcome.status === 'failed')
        reason = `${object.identity}, which could not be created: ${outcome.reason}`
    }
    if (reason === undefined) {
      this.made.add(object.address)
      return undefined
    }
    this.failed.set(object.address, object.identity)
    this.reasons.set(object.address, reason)
    return reason
  }
}
