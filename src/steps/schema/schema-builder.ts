import { adviceFor } from '../../db/sql-state-advice.js'
import type pg from 'pg'
import type { Catalog, SequenceInfo, TableInfo } from '../../catalog/catalog.js'
import { type CreationOrder, creationOrder, type SchemaObject } from '../../catalog/creation-order.js'
import { type Database, isConnectionLost } from '../../db/database.js'
import type { Ddl } from '../../catalog/ddl.js'
import { TablehaulError, messageOf } from '../../errors.js'
import { quoteIdent, type TableRef } from '../../db/table-ref.js'
import { enumLabelChanges, enumLeftAloneNote, labelList } from './enum-labels.js'
import { copiedTables, type TablePlan } from '../plan/planner.js'
import type { IndexOperatorClasses } from './index-operator-classes.js'

export interface SchemaBuilderOptions {
  readonly source: Catalog
  readonly target: Catalog
  readonly targetDb: Database
  readonly ddl: Ddl
  /** The operator classes the created tables' indexes need (made before each table that needs them). */
  readonly operatorClasses?: IndexOperatorClasses | undefined
}

/** What the schema step did. */
export interface SchemaResult {
  /** Tables that could not be created, by target key. */
  readonly failures: Map<string, TablehaulError>
  /** Source oids of the tables this run created on the target (partitioned parents included). */
  readonly created: Set<number>
  /** Source oids of tables created without the inheritance parents they have on the source. */
  readonly standalone: Set<number>
  /**
   * Source oids of partitions attached to a partitioned table the target already had: attaching gave them
   * that table's indexes and keys.
   */
  readonly attachedToExisting: Set<number>
  /** Notes about a table (by target key) that did not stop it. */
  readonly warnings: Map<string, string[]>
  /** Statements for once every table's rows are in (domain checks that are NOT VALID on the source). */
  readonly late: string[]
}

/**
 * The `schema` step: creates on the target what the planned tables need and it lacks, from the source
 * catalog, in dependency order: schemas, extensions, collations, types, functions, sequences, tables
 * (partitioned parents before their partitions, inheritance parents before their children), partition
 * attachments. No index or constraint other than NOT NULL: those come after the data. Each object is
 * created under its own savepoint (in transactions of a few hundred objects), so one that fails fails only
 * the tables that need it, with a message that names it.
 */
export class SchemaBuilder {
  constructor(private readonly options: SchemaBuilderOptions) {}

  /**
   * Creates what `plans` need, the `sequences` selected on their own and the `emptyPartitioned` tables
   * (partitioned tables without partitions), where the target lacks them.
   */
  async createMissing(
    plans: readonly TablePlan[],
    sequences: readonly SequenceInfo[] = [],
    emptyPartitioned: readonly TableInfo[] = [],
  ): Promise<SchemaResult> {
    const result: SchemaResult = {
      failures: new Map(),
      created: new Set(),
      standalone: new Set(),
      attachedToExisting: new Set(),
      warnings: new Map(),
      late: [],
    }
    const missing = plans.filter((plan) => plan.targetState === 'missing' && !plan.problem)
    const recreated = plans.filter(
      (plan) => plan.targetState === 'exists' && plan.mode === 'recreate' && !plan.problem,
    )
    const standaloneSequences = sequences.filter(
      (sequence) => !this.options.target.sequenceNamed(sequence.ref),
    )
    const nothingToDo =
      missing.length === 0 &&
      recreated.length === 0 &&
      standaloneSequences.length === 0 &&
      emptyPartitioned.length === 0
    if (nothingToDo) return result
    const order = creationOrder(
      this.options.source,
      this.tablesToCreate(missing, emptyPartitioned),
      recreated.flatMap((plan) => (plan.source.kind === 'table' ? [plan.source.table] : [])),
      standaloneSequences,
    )
    const { targetDb } = this.options
    await targetDb.withClient(async (client) => {
      try {
        const step = new SavepointRunner(targetDb, client)
        await step.begin()
        const pass: Pass = {
          step,
          order,
          intoOf: targetsByOid(missing),
          failed: new Map(),
          madeMethods: new Set(),
          result,
        }
        await this.createSchemas(pass, [
          ...missing.map((plan) => plan.target.schema),
          ...emptyPartitioned.map((table) => table.ref.schema),
        ])
        await this.createInOrder(pass)
        await this.createQueryTables(pass, missing)
        await this.failRecreationsBlocked(pass, recreated)
        await step.commit()
      } catch (error) {
        throw new TablehaulError(
          'SCHEMA_FAILED',
          `creating the missing tables on the target failed: ${messageOf(error)}`,
          { cause: error, hint: adviceFor(error, 'run', { side: 'target' }) },
        )
      }
    })
    return result
  }

  /**
   * Gives each enum type of the planned tables that the target already has the labels the source's gained
   * since (`ALTER TYPE … ADD VALUE`, at the source's place), before any row is copied: COPY refuses a label
   * its type lacks, so such a table failed every night until someone altered the local type by hand. A
   * label added in a transaction cannot be used before it commits, and these commit before the copies.
   * Each type under its own savepoint; one that cannot be changed (another role owns it, or the target's
   * labels are not the source's in its order) is left as it is, with a note on each table that uses it.
   * Returns the notes by table key.
   */
  async addEnumLabels(plans: readonly TablePlan[]): Promise<Map<string, string[]>> {
    const { source, target, targetDb } = this.options
    const notes = new Map<string, string[]>()
    const note = (keys: readonly string[], text: string) => {
      for (const key of keys) notes.set(key, [...(notes.get(key) ?? []), text])
    }
    const changes = enumLabelChanges(source, target, copiedTables(plans))
    for (const change of changes) if (!change.statements) note(change.tables, enumLeftAloneNote(change))
    const toMake = changes.filter((change) => change.statements)
    if (toMake.length === 0) return notes
    await targetDb.withClient(async (client) => {
      const step = new SavepointRunner(targetDb, client)
      await step.begin()
      for (const { type, tables, labels, statements } of toMake) {
        const error = await step.run(statements!)
        note(
          tables,
          error === undefined
            ? `enum ${type.ref.display} on the target gained the labels the source added: ${labelList(labels)} (ALTER TYPE … ADD VALUE)`
            : `the labels the source's enum ${type.ref.display} has and the target's lacks (${labelList(labels)}) could not be added: ${reason(error)}; a row holding one of them fails the table`,
        )
      }
      await step.commit()
    })
    return notes
  }

  /** The schemas of the tables (`tableSchemas`) and objects to create, where the target lacks them. */
  private async createSchemas(pass: Pass, tableSchemas: readonly string[]): Promise<void> {
    const { target, ddl } = this.options
    const schemas = new Set<string>(tableSchemas)
    for (const object of pass.order.objects) {
      if (object.kind === 'extension') {
        if (object.info.schema) schemas.add(object.info.schema)
      } else schemas.add(object.info.ref.schema)
    }
    for (const schema of schemas) {
      if (target.schemas.some((s) => s.name === schema)) continue
      await pass.step.run([ddl.createSchema(schema), ...ddl.schemaComment(schema)])
    }
  }

  /** One pass in dependency order: a function taking a table's row type comes after that table. */
  private async createInOrder(pass: Pass): Promise<void> {
    for (const object of pass.order.objects) {
      if (object.kind === 'table') {
        await this.createTable(pass, object.key, object.info)
        continue
      }
      const error = await this.createObject(pass.step, object, pass.result)
      if (error !== undefined) pass.failed.set(object.key, error)
    }
  }

  /**
   * Creates one table (planned, the partitioned parent of one, or a partitioned table without partitions),
   * attached to its partitioned table and inheriting from the parents the target has, then its settings;
   * a failure fails it and what needs it.
   */
  private async createTable(pass: Pass, key: string, table: TableInfo): Promise<void> {
    const { result } = pass
    const into = pass.intoOf.get(table.oid)?.target ?? table.ref
    const fail = (error: TablehaulError) => {
      pass.failed.set(key, error)
      // A table no plan copies (a partitioned table without partitions) is known by its own name.
      result.failures.set(into.key, error)
    }
    const blocked = blockedBy(pass, table.oid, into)
    if (blocked) return fail(blocked)
    const partitionParent = this.partitionParentOf(table)
    if (
      partitionParent &&
      !result.created.has(partitionParent.oid) &&
      !this.options.target.table(partitionParent.ref)
    ) {
      return fail(
        schemaError(
          into,
          `its partitioned table ${partitionParent.ref.display} could not be created on the target`,
        ),
      )
    }
    const inheritFrom = this.parentsToInherit(result, table, into)
    const methodError = await this.createAccessMethod(pass.step, table, pass.madeMethods)
    if (methodError !== undefined) {
      return fail(
        schemaError(
          into,
          `it needs table access method ${quoteIdent(table.accessMethod!)}, which could not be created: ${messageOf(methodError)}`,
          methodError,
        ),
      )
    }
    const classError = await this.options.operatorClasses?.ensure(pass.step.client, table)
    if (classError) return fail(schemaError(into, classError.message, classError))
    let statements: string[]
    try {
      statements = this.createTableStatements(result, table, into, { inheritFrom, partitionParent })
    } catch (error) {
      return fail(schemaError(into, messageOf(error), error))
    }
    const error = await pass.step.run(statements)
    if (error !== undefined) return fail(schemaError(into, messageOf(error), error))
    result.created.add(table.oid)
    if (partitionParent && !result.created.has(partitionParent.oid)) result.attachedToExisting.add(table.oid)
    for (const note of this.options.ddl.shortfalls(table)) addWarning(result, into.key, note)
    for (const note of this.options.ddl.inheritanceShortfall(table, inheritFrom))
      addWarning(result, into.key, note)
    if (table.toastOptions.length > 0) {
      // PostgreSQL gives a table a TOAST table only when a column may need one: the source's may have been
      // made for columns since dropped, which are not made again here, and its options then have nowhere to
      // go (CREATE TABLE accepts and drops them).
      const { rows } = await pass.step.client.query<{ none: boolean }>(
        `SELECT reltoastrelid = 0 AS none FROM pg_catalog.pg_class WHERE oid = $1::pg_catalog.regclass`,
        [into.sql],
      )
      if (rows[0]?.none)
        addWarning(
          result,
          into.key,
          `its TOAST options (${table.toastOptions.map((o) => `toast.${o}`).join(', ')}) are not carried: the table has no TOAST table on the target, as none of its columns needs one (the source's was made for columns since dropped)`,
        )
    }
    for (const setting of this.options.ddl.tableSettings(table, into)) {
      const settingError = await pass.step.run(setting.sql)
      if (settingError !== undefined)
        addWarning(result, into.key, `${setting.sql} failed: ${messageOf(settingError)}`)
    }
  }

  /** CREATE TABLE, its sequences' ownership and its attachment to its partitioned table. */
  private createTableStatements(
    result: SchemaResult,
    table: TableInfo,
    into: TableRef,
    parents: { inheritFrom: TableInfo[]; partitionParent: TableInfo | undefined },
  ): string[] {
    const { ddl } = this.options
    const { inheritFrom, partitionParent } = parents
    const statements = [
      ...ddl.createTable(table, into, {
        inheritFrom,
        withInheritedChecks:
          (partitionParent !== undefined && !result.created.has(partitionParent.oid)) ||
          inheritFrom.some((parent) => !result.created.has(parent.oid)),
      }),
      ...ddl.sequenceOwnership(table, into),
    ]
    if (partitionParent && table.partitionBound)
      statements.push(ddl.attachPartition(table, partitionParent, into))
    return statements
  }

  /**
   * The inheritance parents a table is created under: those this run created or the target has. Without
   * the others it is created standalone, with a warning.
   */
  private parentsToInherit(result: SchemaResult, table: TableInfo, into: TableRef): TableInfo[] {
    if (table.isPartition) return []
    const { source, target } = this.options
    const inheritFrom: TableInfo[] = []
    for (const parent of source.parents(table)) {
      if (result.created.has(parent.oid) || target.table(parent.ref)) {
        inheritFrom.push(parent)
        continue
      }
      result.standalone.add(table.oid)
      addWarning(
        result,
        into.key,
        `created without inheriting from ${parent.ref.display}, which is neither copied by this run nor on the target`,
      )
    }
    return inheritFrom
  }

  private partitionParentOf(table: TableInfo): TableInfo | undefined {
    return table.isPartition && table.parentOid !== null
      ? this.options.source.tableByOid(table.parentOid)
      : undefined
  }

  /** The tables of `query:` entries, from the query's result columns. */
  private async createQueryTables(pass: Pass, missing: readonly TablePlan[]): Promise<void> {
    for (const plan of missing) {
      if (plan.source.kind !== 'query') continue
      const error = await pass.step.run(
        this.options.ddl.createTableFromColumns(plan.target, plan.source.columns),
      )
      if (error !== undefined)
        pass.result.failures.set(plan.target.key, schemaError(plan.target, messageOf(error), error))
    }
  }

  /**
   * A table to re-create fails when something it needs could not be created, the operator classes of its
   * indexes included (it is re-created in its copy's transaction, with them).
   */
  private async failRecreationsBlocked(pass: Pass, recreated: readonly TablePlan[]): Promise<void> {
    for (const plan of recreated) {
      if (plan.source.kind !== 'table') continue
      const blocked = blockedBy(pass, plan.source.table.oid, plan.target)
      if (blocked) {
        pass.result.failures.set(plan.target.key, blocked)
        continue
      }
      const classError = await this.options.operatorClasses?.ensure(pass.step.client, plan.source.table)
      if (classError)
        pass.result.failures.set(plan.target.key, schemaError(plan.target, classError.message, classError))
    }
  }

  /**
   * A table access method made with CREATE ACCESS METHOD on the source is made the same way where the
   * target lacks it: its handler (heap_tableam_handler, say) must exist there. Returns the error.
   */
  private async createAccessMethod(
    step: SavepointRunner,
    table: TableInfo,
    made: Set<string>,
  ): Promise<unknown> {
    const statement = this.options.ddl.createAccessMethod(table)
    if (!statement || made.has(table.accessMethod!)) return undefined
    const exists = await step.query(`SELECT 1 FROM pg_catalog.pg_am WHERE amname = $1`, [table.accessMethod])
    if (exists.rowCount === 0) {
      const error = await step.run(statement)
      if (error !== undefined) return error
    }
    made.add(table.accessMethod!)
    return undefined
  }

  private madeWithType(functionOid: number): boolean {
    return this.options.source.types.some((type) =>
      type.baseDefinition?.functions.some((fn) => fn.oid === functionOid),
    )
  }

  /** The tables to create: the missing planned ones and the partitioned parents they need, outermost first. */
  private tablesToCreate(missing: readonly TablePlan[], alsoTables: readonly TableInfo[]): TableInfo[] {
    const { source, target } = this.options
    const tables: TableInfo[] = []
    const seen = new Set<number>()
    const add = (table: TableInfo) => {
      if (seen.has(table.oid)) return
      const parent =
        table.isPartition && table.parentOid !== null ? source.tableByOid(table.parentOid) : undefined
      if (parent && !target.table(parent.ref)) add(parent)
      seen.add(table.oid)
      tables.push(table)
    }
    for (const plan of missing) if (plan.source.kind === 'table') add(plan.source.table)
    for (const table of alsoTables) add(table)
    return tables
  }

  /** Creates one extension, collation, type, function or sequence unless the target has it; returns the error. */
  private async createObject(
    step: SavepointRunner,
    object: Exclude<SchemaObject, { kind: 'table' }>,
    result: SchemaResult,
  ): Promise<unknown> {
    const { target, ddl } = this.options
    let statements: string[]
    try {
      switch (object.kind) {
        case 'extension': {
          const available = target.extension(object.info.name)
          if (available?.installed) return undefined
          if (!available) {
            return new TablehaulError(
              'SCHEMA_FAILED',
              `extension ${object.info.name} (version ${object.info.version} on the source) is not available on the target server`,
              {
                hint: `install the ${object.info.name} extension's files on the target's server (or CREATE EXTENSION ${object.info.name} there), then run again`,
              },
            )
          }
          statements = [ddl.createExtension(object.info)]
          break
        }
        case 'collation':
          if (target.collationNamed(object.info.ref)) return undefined
          statements = ddl.createCollation(object.info)
          break
        case 'type':
          if (object.info.extension) return undefined
          if (target.typeNamed(object.info.ref)) return undefined
          statements = ddl.createType(object.info)
          result.late.push(...ddl.lateTypeStatements(object.info))
          break
        case 'function':
          if (target.functionWithSignature(object.info.signature)) return undefined
          // A base type's I/O functions take or return it: they are made with the type, between its shell
          // and its definition.
          if (this.madeWithType(object.info.oid)) return undefined
          statements = ddl.createFunction(object.info)
          break
        case 'sequence':
          if (target.sequenceNamed(object.info.ref)) return undefined
          statements = ddl.createSequence(object.info)
          break
      }
    } catch (error) {
      return error
    }
    return step.run(statements)
  }
}

const OBJECTS_PER_TRANSACTION = 500

/** The state of one `createMissing`: its transaction, its order, what failed so far and what it did. */
interface Pass {
  readonly step: SavepointRunner
  readonly order: CreationOrder
  /** The plan that creates a source table (by oid) on the target. */
  readonly intoOf: ReadonlyMap<number, TablePlan>
  /** Objects that could not be created, by object key, with why. */
  readonly failed: Map<string, unknown>
  /** Table access methods made (or found) on the target so far. */
  readonly madeMethods: Set<string>
  readonly result: SchemaResult
}

function targetsByOid(missing: readonly TablePlan[]): Map<number, TablePlan> {
  const intoOf = new Map<number, TablePlan>()
  for (const plan of missing) if (plan.source.kind === 'table') intoOf.set(plan.source.table.oid, plan)
  return intoOf
}

/** The error for a table one of whose prerequisites failed; undefined when none did. */
function blockedBy(pass: Pass, oid: number, into: { display: string }): TablehaulError | undefined {
  const blocker = [...(pass.order.prerequisites.get(oid) ?? [])].find((key) => pass.failed.has(key))
  if (!blocker) return undefined
  const cause = pass.failed.get(blocker)
  return schemaError(
    into,
    `it needs ${describeKey(blocker, pass.order.objects)}, which could not be created: ${reason(cause)}`,
    cause,
  )
}

function describeKey(key: string, objects: readonly SchemaObject[]): string {
  const object = objects.find((o) => o.key === key)
  if (!object) return key
  switch (object.kind) {
    case 'extension':
      return `extension ${object.info.name}`
    case 'function':
      return `function ${object.info.signature}`
    case 'type':
      return `type ${object.info.ref.display}`
    default:
      return `${object.kind} ${object.info.ref.display}`
  }
}

/** An error's message; a TablehaulError's hint travels on its own. */
function reason(error: unknown): string {
  return error instanceof TablehaulError ? error.message : messageOf(error)
}

function addWarning(result: SchemaResult, key: string, text: string): void {
  const list = result.warnings.get(key) ?? []
  list.push(text)
  result.warnings.set(key, list)
}

function schemaError(into: { display: string }, message: string, cause?: unknown): TablehaulError {
  if (cause instanceof TablehaulError && cause.hint) {
    return new TablehaulError('SCHEMA_FAILED', `cannot create ${into.display} on the target: ${message}`, {
      cause,
      table: into.display,
      hint: cause.hint,
    })
  }
  return new TablehaulError('SCHEMA_FAILED', `cannot create ${into.display} on the target: ${message}`, {
    cause,
    table: into.display,
    hint:
      adviceFor(cause, 'run', { side: 'target' }) ??
      'create the table (or the extension or type it needs) on the target yourself, then run again',
  })
}

/**
 * Runs statements each under a savepoint: a failure is rolled back alone and returned, not thrown. Every
 * so many objects the transaction commits and a new one begins: a transaction holds a lock on each table
 * it creates, and thousands of them would exhaust the server's lock table (max_locks_per_transaction).
 */
class SavepointRunner {
  private counter = 0

  constructor(
    private readonly target: Database,
    /** For a step that takes its own savepoints (the operator classes' ObjectBuilder). */
    readonly client: pg.ClientBase,
  ) {}

  async begin(): Promise<void> {
    await this.target.begin(this.client, {
      settings: [
        `search_path = ''`,
        // Function bodies may use objects created later (or tables not copied): they are checked when called.
        `check_function_bodies = false`,
      ],
    })
  }

  async commit(): Promise<void> {
    await this.client.query('COMMIT')
  }

  async query(sql: string, params: unknown[]): Promise<pg.QueryResult> {
    return this.client.query(sql, params)
  }

  /** Runs `statements` under a savepoint; returns the error that rolled them back, undefined when none did. */
  async run(statements: string | readonly string[]): Promise<unknown> {
    if (++this.counter % OBJECTS_PER_TRANSACTION === 0) {
      await this.commit()
      await this.begin()
    }
    try {
      await this.target.withSavepoint(this.client, `tablehaul_${this.counter}`, async () => {
        for (const statement of typeof statements === 'string' ? [statements] : statements)
          await this.client.query(statement)
      })
      return undefined
    } catch (error) {
      // A savepoint that could not be rolled back leaves no transaction to go on in.
      if (isConnectionLost(error)) throw error
      return error
    }
  }
}
