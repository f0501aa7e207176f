import { reasonOf } from '../../db/sql-state-advice.js'
import type pg from 'pg'
import type { Catalog, SequenceInfo, TableInfo } from '../../catalog/catalog.js'
import { type Database, EMPTY_SEARCH_PATH, withEmptySearchPath } from '../../db/database.js'
import type { Ddl } from '../../catalog/ddl.js'
import type { TableRef } from '../../db/table-ref.js'
import { sqlStateOf } from '../../errors.js'
import type { ForeignKey } from '../constraints/foreign-keys.js'
import type { TablePlan } from '../plan/planner.js'
import type { SchemaResult } from '../schema/schema-builder.js'

export interface PostDataBuilderOptions {
  readonly source: Catalog
  readonly target: Catalog
  readonly sourceDb: Database
  readonly targetDb: Database
  readonly ddl: Ddl
  readonly plans: readonly TablePlan[]
  /** Sequences selected on their own, set to the source's state at the end. */
  readonly sequences?: readonly SequenceInfo[]
  /** Partitioned tables without partitions: no copy ends them, so they get their indexes at the end. */
  readonly emptyPartitioned?: readonly TableInfo[]
  readonly schema: SchemaResult
  /** A note about a table (its target key), or about the run when the table is not one of the run's. */
  readonly warn: (tableKey: string | undefined, message: string) => void
}

/** Errors that mean "it is there already": an index or constraint an ATTACH PARTITION built, say. */
const ALREADY_THERE = new Set(['42P07', '42710'])

/**
 * The `indexes` and `sequences` steps, table by table as each one's data is in: primary keys, unique,
 * check and exclusion constraints, indexes, statistics objects, triggers, rules and row-level security of
 * the tables this run created or re-created; then the sequences the table uses get the source's exact
 * `last_value` and `is_called`. Runs in the copy workers, so it overlaps other tables' copies.
 *
 * A table with children in the run (a partitioned table, or an inheritance parent) gets its own only once
 * every child has its own: a partitioned table's indexes are attached to its partitions' indexes, and a
 * parent's checks reach into its children.
 */
export class PostDataBuilder {
  /** For each table: the tables (itself, children) it still waits for. */
  private readonly waiting = new Map<number, Set<number>>()
  private readonly plansByOid = new Map<number, TablePlan>()
  /** Tables whose own statements ran inside their copy transaction. */
  private readonly builtInCopy = new Set<number>()

  constructor(private readonly options: PostDataBuilderOptions) {
    const { source, plans } = options
    for (const plan of plans) {
      if (plan.source.kind !== 'table' || plan.problem) continue
      this.plansByOid.set(plan.source.table.oid, plan)
    }
    const wait = (oid: number, on: number) => {
      const set = this.waiting.get(oid) ?? new Set<number>()
      set.add(on)
      this.waiting.set(oid, set)
    }
    const climb = (table: TableInfo) => {
      for (const parent of source.parents(table)) {
        const fresh = !this.waiting.has(parent.oid)
        wait(parent.oid, table.oid)
        if (fresh) climb(parent)
      }
    }
    for (const [oid, plan] of this.plansByOid) {
      wait(oid, oid)
      if (plan.source.kind === 'table') climb(plan.source.table)
    }
  }

  /**
   * Inside a table's copy transaction, once its rows are in (so the table is recorded as done exactly when
   * all of it is there): its indexes, constraints and the rest, unless it still waits for children; its
   * sequences. Each statement runs under a savepoint: one that fails becomes a note on the table and the
   * data stays. Nothing is marked done here: the transaction may still roll back and be tried again.
   */
  async afterCopy(plan: TablePlan, client: pg.ClientBase): Promise<string[]> {
    const notes: string[] = [...(this.options.schema.warnings.get(plan.target.key) ?? [])]
    if (plan.source.kind !== 'table') return notes
    const table = plan.source.table
    const pending = this.waiting.get(table.oid)
    if (pending?.size === 1 && pending.has(table.oid)) {
      notes.push(...(await this.build(table, client)))
      this.builtInCopy.add(table.oid)
    }
    notes.push(...(await this.syncSequences(table, plan.target, client)))
    return notes
  }

  /**
   * Once a table is finished, copied or not: what it still lacks is built (a table that waited for its
   * children, or one this run created whose copy failed and stays empty), and the tables it belongs to no
   * longer wait for it; those waiting for nothing more get what comes after their data.
   */
  async tableFinished(plan: TablePlan, copied: boolean): Promise<void> {
    if (plan.source.kind !== 'table') return
    const table = plan.source.table
    const built = copied && this.builtInCopy.has(table.oid)
    if (this.done(table.oid, table.oid) && !built && (copied || this.options.schema.created.has(table.oid))) {
      for (const note of await this.build(table, null)) this.options.warn(plan.target.key, note)
    }
    await this.climb(table)
  }

  /**
   * The indexes, constraints and the rest of the partitioned tables without partitions this run created;
   * before the foreign keys, which may reference their keys.
   */
  async buildEmptyPartitioned(): Promise<void> {
    for (const table of this.options.emptyPartitioned ?? []) {
      if (!this.options.schema.created.has(table.oid)) continue
      for (const note of await this.build(table, null))
        this.options.warn(undefined, `${table.ref.display}: ${note}`)
    }
  }

  /** Foreign keys of the tables this run created or re-created, where both ends are on the target. */
  foreignKeys(finished: (key: string) => boolean): { keys: ForeignKey[]; notes: Array<[string, string]> } {
    const { source, target, ddl, schema } = this.options
    const keys: ForeignKey[] = []
    const notes: Array<[string, string]> = []
    const built = new Set<number>(schema.created)
    for (const [oid, plan] of this.plansByOid) if (plan.mode === 'recreate') built.add(oid)
    for (const oid of built) {
      const table = source.tableByOid(oid)
      if (!table) continue
      const plan = this.plansByOid.get(oid)
      const into = plan?.target ?? table.ref
      if (plan && !finished(into.key)) continue
      for (const constraint of ddl.foreignKeys(table)) {
        const refused = ddl.constraintShortfall(constraint)
        if (refused !== undefined) {
          notes.push([into.key, `foreign key ${constraint.name} was not created: ${refused}`])
          continue
        }
        const referenced = source.tableByOid(constraint.referencedTableOid)
        const present =
          referenced && (schema.created.has(referenced.oid) || target.table(referenced.ref) !== undefined)
        if (!present) {
          notes.push([
            into.key,
            `foreign key ${constraint.name} was not created: it references ${referenced?.ref.display ?? 'a table'} that this run does not copy`,
          ])
          continue
        }
        keys.push({
          table: into,
          name: constraint.name,
          definition: constraint.definition,
          comment: constraint.comment,
        })
      }
    }
    return { keys, notes }
  }

  /**
   * What waits for every table's rows: domain checks that are NOT VALID on the source; the state of the
   * sequences selected on their own.
   */
  async finish(): Promise<void> {
    for (const statement of this.options.schema.late) {
      await this.options.targetDb
        .queryWith([EMPTY_SEARCH_PATH], statement)
        .catch((error: unknown) =>
          this.options.warn(undefined, `${statement} failed: ${reasonOf(error, 'target')}`),
        )
    }
    for (const sequence of this.options.sequences ?? []) {
      const note = await this.syncSequence(sequence, null, null)
      if (note) this.options.warn(undefined, note)
    }
  }

  /**
   * A statement on the target: under a savepoint on `client`, else in a transaction of its own; either way
   * with search_path empty, as the source's definitions were printed (EMPTY_SEARCH_PATH): an index, check,
   * trigger condition, rule or policy made under `public` could bind another role's operator there.
   */
  private async execute<R extends pg.QueryResultRow = pg.QueryResultRow>(
    client: pg.ClientBase | null,
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    const target = this.options.targetDb
    if (!client) return target.queryWith<R>([EMPTY_SEARCH_PATH], sql, params)
    return target.withSavepoint(client, 'tablehaul_after_data', () =>
      withEmptySearchPath(client, () => client.query<R>(sql, params)),
    )
  }

  /**
   * A statement of pg_catalog's functions on typed parameters, which no search_path changes: under a
   * savepoint on `client`, else on a connection of its own.
   */
  private async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    client: pg.ClientBase | null,
    sql: string,
    params: unknown[],
  ): Promise<pg.QueryResult<R>> {
    const target = this.options.targetDb
    if (!client) return target.query<R>(sql, params)
    return target.withSavepoint(client, 'tablehaul_after_data', () => client.query<R>(sql, params))
  }

  /** Marks `finished` done for `oid`; true when `oid` waits for nothing more (and was waiting). */
  private done(oid: number, finished: number): boolean {
    const set = this.waiting.get(oid)
    if (!set || !set.delete(finished)) return false
    return set.size === 0
  }

  private async climb(table: TableInfo): Promise<void> {
    for (const parent of this.options.source.parents(table)) {
      if (!this.done(parent.oid, table.oid)) continue
      const plan = this.plansByOid.get(parent.oid)
      const key = plan?.target.key
      for (const note of await this.build(parent, null))
        this.options.warn(key, key ? note : `${parent.ref.display}: ${note}`)
      if (!plan) {
        for (const note of await this.syncSequences(parent, parent.ref, null))
          this.options.warn(undefined, `${parent.ref.display}: ${note}`)
      }
      await this.climb(parent)
    }
  }

  /**
   * Runs a table's after-data statements if this run created or re-created it, on `client` (in its copy
   * transaction, each under a savepoint) or on a connection of its own; returns the failures.
   */
  private async build(table: TableInfo, client: pg.ClientBase | null): Promise<string[]> {
    const { schema, ddl } = this.options
    const plan = this.plansByOid.get(table.oid)
    if (!schema.created.has(table.oid) && plan?.mode !== 'recreate') return []
    const into = plan?.target ?? table.ref
    const notes: string[] = []
    const failed = new Set<string>()
    const options = {
      standalone: schema.standalone.has(table.oid),
      attached: schema.attachedToExisting.has(table.oid),
    }
    for (const statement of ddl.afterData(table, into, options)) {
      // The rest of an object (its comment, its enabled state) is pointless once the object failed.
      if (failed.has(statement.what)) continue
      if (statement.refused !== undefined) {
        failed.add(statement.what)
        notes.push(`${statement.what} could not be created: ${statement.refused}`)
        continue
      }
      try {
        await this.execute(client, statement.sql)
      } catch (error) {
        if (ALREADY_THERE.has(sqlStateOf(error) ?? '')) continue
        failed.add(statement.what)
        notes.push(`${statement.what} could not be created: ${reasonOf(error, 'target')}`)
      }
    }
    return notes
  }

  /**
   * Sets each sequence the table uses (owned by its serial or identity columns, or named in a default) to
   * the source's `last_value` and `is_called`. The target's sequence is the one its column owns, whatever
   * its name, else the one with the source's name.
   */
  private async syncSequences(
    table: TableInfo,
    into: TableRef,
    client: pg.ClientBase | null,
  ): Promise<string[]> {
    const { source } = this.options
    const sequences = source.sequencesUsedBy(table)
    const notes: string[] = []
    for (const sequence of sequences) {
      const note = await this.syncSequence(
        sequence,
        sequence.ownerTableOid === table.oid && sequence.ownerColumn
          ? { table: into, column: sequence.ownerColumn }
          : null,
        client,
      )
      if (note) notes.push(note)
    }
    return notes
  }

  /** One sequence: the target's is the one `owner` owns if given, else the one with the source's name. */
  private async syncSequence(
    sequence: SequenceInfo,
    owner: { table: TableRef; column: string } | null,
    client: pg.ClientBase | null,
  ): Promise<string | undefined> {
    const { sourceDb } = this.options
    try {
      const state = await sourceDb.query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::text AS last_value, is_called FROM ${sequence.ref.sql}`,
      )
      let targetName: string | null = null
      if (owner) {
        // In the copy transaction: the table may have been re-created there, and only it sees that one.
        const { rows } = await this.query<{ seq: string | null }>(
          client,
          'SELECT pg_catalog.pg_get_serial_sequence($1, $2) AS seq',
          [owner.table.sql, owner.column],
        )
        targetName = rows[0]?.seq ?? null
      }
      if (!targetName) {
        const { rows } = await this.query<{ seq: string | null }>(
          client,
          'SELECT pg_catalog.to_regclass($1)::text AS seq',
          [sequence.ref.sql],
        )
        targetName = rows[0]?.seq ? sequence.ref.sql : null
      }
      if (!targetName || !state.rows[0]) return undefined
      await this.query(client, 'SELECT pg_catalog.setval($1::regclass, $2::bigint, $3)', [
        targetName,
        state.rows[0].last_value,
        state.rows[0].is_called,
      ])
      return undefined
    } catch (error) {
      return `sequence ${sequence.ref.display} could not be set: ${reasonOf(error, 'target')}`
    }
  }
}
