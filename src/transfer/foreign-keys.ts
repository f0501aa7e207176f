import type { Catalog, TableInfo } from '../db/catalog.js'
import type { Database } from '../db/database.js'
import { quoteIdent, quoteLiteral, type TableRef } from '../db/table-ref.js'
import { messageOf, sqlStateOf } from '../errors.js'
import type { TablePlan } from './planner.js'
import type { RunHistory } from './run-history.js'

/** A foreign key to (re)create on the target. */
export interface ForeignKey {
  /** The referencing table. */
  readonly table: TableRef
  readonly name: string
  /** As pg_get_constraintdef writes it: `FOREIGN KEY (a) REFERENCES s.t(b) …`. */
  readonly definition: string
  readonly comment?: string | null
}

/**
 * Foreign keys during a run. Keys between tables that the run writes are lifted before the copy (TRUNCATE
 * refuses a referenced table, and a key checked row by row slows the load and depends on the order tables
 * arrive in), then put back, validated, once every table is in; tables the run creates get their keys then.
 */
export class ForeignKeys {
  private readonly lifted: ForeignKey[] = []

  constructor(
    private readonly target: Database,
    private readonly targetCatalog: Catalog,
    private readonly history: RunHistory,
  ) {}

  /**
   * Drops the keys on existing target tables whose both ends the run writes; they come back in `restore`.
   * A partitioned table counts as written when partitions of it are: its keys reach into them.
   */
  async lift(plans: readonly TablePlan[]): Promise<void> {
    const written = new Set<string>()
    const mark = (table: TableInfo) => {
      if (written.has(table.ref.key)) return
      written.add(table.ref.key)
      for (const parent of this.targetCatalog.parents(table)) if (table.isPartition) mark(parent)
    }
    for (const plan of plans) {
      const table = plan.targetTable
      if (!plan.problem && plan.targetState === 'exists' && table) mark(table)
    }
    const keys: ForeignKey[] = []
    for (const table of this.targetCatalog.tables) {
      if (!written.has(table.ref.key)) continue
      for (const constraint of table.constraints) {
        // a partition's copy of its parent's key goes and comes back with the parent's
        if (constraint.type !== 'f' || !constraint.isLocal || constraint.parentConstraintOid !== 0) continue
        const referenced = this.targetCatalog.tableByOid(constraint.referencedTableOid)
        if (referenced && written.has(referenced.ref.key)) {
          keys.push({
            table: table.ref,
            name: constraint.name,
            definition: constraint.definition,
            comment: constraint.comment,
          })
        }
      }
    }
    if (keys.length === 0) return
    const client = await this.target.connect()
    try {
      await client.query('BEGIN')
      for (const key of keys)
        await client.query(`ALTER TABLE ${key.table.sql} DROP CONSTRAINT ${quoteIdent(key.name)}`)
      await client.query('COMMIT')
      client.release()
    } catch (error) {
      client.release(error instanceof Error ? error : true)
      throw error
    }
    this.lifted.push(...keys)
  }

  /** The keys `restore` will put back. */
  get pending(): readonly ForeignKey[] {
    return this.lifted
  }

  /**
   * Creates the lifted keys and `created` ones, validated. A key whose rows do not hold (for example when
   * one of its tables failed to copy and kept old rows) is created NOT VALID instead, so it still guards
   * new rows, and reported. Returns notes by referencing table key.
   */
  async restore(created: readonly ForeignKey[]): Promise<Map<string, string[]>> {
    const notes = new Map<string, string[]>()
    const note = (key: ForeignKey, text: string) => {
      const list = notes.get(key.table.key) ?? []
      list.push(text)
      notes.set(key.table.key, list)
    }
    for (const key of [...this.lifted, ...created]) {
      const add = `ALTER TABLE ${key.table.sql} ADD CONSTRAINT ${quoteIdent(key.name)} ${key.definition}`
      const comment =
        key.comment == null
          ? undefined
          : `COMMENT ON CONSTRAINT ${quoteIdent(key.name)} ON ${key.table.sql} IS ${quoteLiteral(key.comment)}`
      try {
        await this.target.query(add)
        if (comment) await this.target.query(comment)
      } catch (error) {
        if (sqlStateOf(error) === '23503' && !/NOT VALID/.test(key.definition)) {
          try {
            await this.target.query(`${add} NOT VALID`)
            if (comment) await this.target.query(comment)
            note(
              key,
              `foreign key ${key.name} was created NOT VALID: existing rows violate it (${messageOf(error)}); run ALTER TABLE … VALIDATE CONSTRAINT once the data is fixed`,
            )
            continue
          } catch {
            // reported below
          }
        }
        note(key, `foreign key ${key.name} could not be created: ${messageOf(error)}`)
      }
    }
    return notes
  }
}
