import type pg from 'pg'
import type { Catalog, TableInfo } from '../db/catalog.js'
import type { Database } from '../db/database.js'
import type { Ddl } from '../db/ddl.js'
import { TablehaulError, messageOf } from '../errors.js'
import type { TablePlan } from './planner.js'

export interface SchemaBuilderOptions {
  readonly source: Catalog
  readonly target: Catalog
  readonly targetDb: Database
  readonly ddl: Ddl
  readonly lockTimeoutMs: number
}

/**
 * The `schema` step: creates on the target what the planned tables need and it lacks, in dependency
 * order (schemas, enum types, sequences, partitioned parents, tables, partition attachments), without
 * indexes or constraints (those come after the data). Each object is created under its own savepoint,
 * so one that fails fails only the tables that need it.
 */
export class SchemaBuilder {
  constructor(private readonly options: SchemaBuilderOptions) {}

  /** Returns the tables that could not be created, by target key. */
  async createMissing(plans: readonly TablePlan[]): Promise<Map<string, TablehaulError>> {
    const failures = new Map<string, TablehaulError>()
    const missing = plans.filter((plan) => plan.targetState === 'missing' && !plan.problem)
    if (missing.length === 0) return failures

    const { source, target, ddl } = this.options
    const client = await this.options.targetDb.connect()
    try {
      await client.query('BEGIN')
      await client.query(`SET LOCAL search_path = ''`)
      await client.query(`SET LOCAL lock_timeout = ${Math.round(this.options.lockTimeoutMs)}`)
      const step = new SavepointRunner(client)

      // Partitioned parents a missing partition needs, outermost first.
      const tables: TableInfo[] = []
      const seen = new Set<number>()
      const addWithAncestors = (table: TableInfo) => {
        if (seen.has(table.oid)) return
        const parent =
          table.isPartition && table.parentOid !== null ? source.tableByOid(table.parentOid) : undefined
        if (parent && !target.table(parent.ref)) addWithAncestors(parent)
        seen.add(table.oid)
        tables.push(table)
      }
      for (const plan of missing) if (plan.source.kind === 'table') addWithAncestors(plan.source.table)

      const schemas = new Set([...tables.map((t) => t.ref.schema), ...missing.map((p) => p.target.schema)])
      for (const schema of schemas) await step.run(ddl.createSchema(schema))

      const types = new Set(tables.flatMap((t) => t.columns.map((c) => c.type.replace(/(\[\])+$/, ''))))
      for (const enumType of source.enumTypes) {
        if (!types.has(enumType.rendered) || target.enumTypes.some((t) => t.ref.equals(enumType.ref)))
          continue
        await step.run(ddl.createEnum(enumType))
      }
      for (const table of tables) {
        for (const sequence of source.ownedSequences(table)) {
          if (sequence.ownerDependency === 'a') await step.run(ddl.createSequence(sequence))
        }
      }

      const failedOids = new Set<number>()
      for (const table of tables) {
        const parent =
          table.isPartition && table.parentOid !== null ? source.tableByOid(table.parentOid) : undefined
        if (parent && failedOids.has(parent.oid)) {
          failedOids.add(table.oid)
          continue
        }
        const plan = missing.find((p) => p.source.kind === 'table' && p.source.table.oid === table.oid)
        const into = plan?.target ?? table.ref
        const statements = [ddl.createTable(table, into), ...ddl.sequenceOwnership(table, into)]
        if (parent && table.partitionBound && into.equals(table.ref))
          statements.push(ddl.attachPartition(table, parent))
        const error = await step.run(statements)
        if (error) failedOids.add(table.oid)
        if (error && plan) failures.set(plan.target.key, schemaError(plan, error))
      }
      for (const plan of missing) {
        if (plan.source.kind === 'query') {
          const error = await step.run(ddl.createTableFromColumns(plan.target, plan.source.columns))
          if (error) failures.set(plan.target.key, schemaError(plan, error))
        } else if (failedOids.has(plan.source.table.oid) && !failures.has(plan.target.key)) {
          failures.set(
            plan.target.key,
            new TablehaulError('SCHEMA_FAILED', `its partitioned parent could not be created on the target`, {
              table: plan.target.display,
            }),
          )
        }
      }
      await client.query('COMMIT')
      client.release()
    } catch (error) {
      client.release(error instanceof Error ? error : true)
      throw new TablehaulError(
        'SCHEMA_FAILED',
        `creating the missing tables on the target failed: ${messageOf(error)}`,
        { cause: error },
      )
    }
    return failures
  }
}

function schemaError(plan: TablePlan, error: unknown): TablehaulError {
  return new TablehaulError(
    'SCHEMA_FAILED',
    `cannot create ${plan.target.display} on the target: ${messageOf(error)}`,
    {
      cause: error,
      table: plan.target.display,
      hint: 'create the table (or the extension or type it needs) on the target yourself, then run again',
    },
  )
}

/** Runs statements each under a savepoint: a failure is rolled back alone and returned, not thrown. */
class SavepointRunner {
  private counter = 0

  constructor(private readonly client: pg.ClientBase) {}

  async run(statements: string | readonly string[]): Promise<unknown> {
    const name = `tablehaul_${++this.counter}`
    await this.client.query(`SAVEPOINT ${name}`)
    try {
      for (const statement of typeof statements === 'string' ? [statements] : statements)
        await this.client.query(statement)
      await this.client.query(`RELEASE SAVEPOINT ${name}`)
      return undefined
    } catch (error) {
      await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`)
      return error
    }
  }
}
