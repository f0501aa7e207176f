import { createHash } from 'node:crypto'
import pLimit from 'p-limit'
import type pg from 'pg'
import type { Config } from '../../config/schema.js'
import { type Database, READ_ONLY_SNAPSHOT } from '../../db/database.js'
import { type ErrorInfo, errorInfo } from '../../report/run-report.js'
import type { TablePlan } from '../plan/planner.js'
import { openForReading } from '../connect.js'
import type { Snapshot } from '../snapshot.js'
import {
  type HashedColumn,
  type Hashing,
  hashProbe,
  hashedColumns,
  hashingFor,
  wholeFingerprintSql,
} from '../sync/fingerprint.js'

/** How one table compares. */
export interface TableComparison {
  /** The target table, `schema.table`. */
  readonly table: string
  /** The source table, or `query`. */
  readonly source: string
  /**
   * same: equal row counts (and checksums, when asked for); different: they differ; missing: the target
   * table does not exist; failed: a side could not be read (see `error`).
   */
  readonly status: 'same' | 'different' | 'missing' | 'failed'
  readonly sourceRows: number | null
  readonly targetRows: number | null
  /** Order-independent hash of every row's text form, when `checksum` was asked for. */
  readonly sourceChecksum?: string | undefined
  readonly targetChecksum?: string | undefined
  /** What differs, in words. */
  readonly detail?: string | undefined
  readonly error?: ErrorInfo | undefined
  readonly durationMs: number
}

/** The outcome of `Verifier.verify()`: one comparison per table, and the verdict. */
export interface VerifyReport {
  /** `same` only when every table is the same on both sides. */
  readonly status: 'same' | 'different'
  readonly source: string
  readonly target: string
  /** When the source snapshot every table was read from was taken. */
  readonly snapshotTakenAt?: string | undefined
  readonly warnings: readonly string[]
  readonly checksum: boolean
  readonly tables: readonly TableComparison[]
  readonly totals: {
    readonly tables: number
    readonly same: number
    readonly different: number
    readonly missing: number
    readonly failed: number
  }
  readonly durationMs: number
}

/** Options of `Verifier.verify()`. */
export interface VerifyOptions {
  /** Also compare an order-independent hash of every row's text form (reads every row). @default false */
  readonly checksum?: boolean
  /** Called as each table's comparison is done (tables are compared `jobs` at a time). */
  readonly onTable?: (comparison: TableComparison) => void
  readonly signal?: AbortSignal
}

/**
 * Compares the tables a config selects between source and target: row counts, and with `checksum` an
 * order-independent hash of all rows' text forms (`md5` of each row, summed), computed by each server
 * under the same pinned session settings so equal values render as equal text. The source is read from one
 * exported snapshot, so all tables are compared as of one instant. Nothing is written.
 *
 * With `mode: append` the target holds more rows than the source by design; compare such tables yourself.
 */
export class Verifier {
  constructor(private readonly config: Config) {}

  async verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    const started = Date.now()
    const session = await openForReading(this.config)
    try {
      const { source, target, snapshot, plan } = session
      const warnings = [...plan.warnings]
      if (snapshot.unavailable) warnings.push(snapshot.unavailable)
      const limit = pLimit(this.config.jobs)
      const checksum = options.checksum ?? false
      const hashing =
        checksum && target
          ? hashingFor(await source.withClient(hashProbe), await target.withClient(hashProbe))
          : 'md5'
      const tables = await Promise.all(
        plan.tables.map((table) =>
          limit(async () => {
            options.signal?.throwIfAborted()
            const comparison = await compareTable(table, { source, target, snapshot, checksum, hashing })
            options.onTable?.(comparison)
            return comparison
          }),
        ),
      )
      const count = (status: TableComparison['status']) => tables.filter((t) => t.status === status).length
      const totals = {
        tables: tables.length,
        same: count('same'),
        different: count('different'),
        missing: count('missing'),
        failed: count('failed'),
      }
      return {
        status: totals.same === totals.tables ? 'same' : 'different',
        source: session.sourceDisplay,
        target: session.targetDisplay,
        snapshotTakenAt: snapshot.takenAt,
        warnings,
        checksum,
        tables,
        totals,
        durationMs: Date.now() - started,
      }
    } finally {
      await session.close()
    }
  }
}

interface Sides {
  readonly source: Database
  readonly target: Database | undefined
  readonly snapshot: Snapshot
  readonly checksum: boolean
  readonly hashing: Hashing
}

interface Measure {
  readonly rows: number
  readonly checksum?: string | undefined
}

async function compareTable(plan: TablePlan, sides: Sides): Promise<TableComparison> {
  const started = Date.now()
  const base = { table: plan.target.display, source: plan.sourceLabel }
  const done = (fields: Omit<TableComparison, 'table' | 'source' | 'durationMs'>): TableComparison => ({
    ...base,
    ...fields,
    durationMs: Date.now() - started,
  })
  const query = measureQuery(plan, sides.checksum, sides.hashing)
  // Both sides count (and hash) at once; the target's answer is only looked at after the source's.
  const targetRead =
    plan.targetState === 'missing' || !sides.target ? undefined : measureTarget(query.target, sides.target)
  targetRead?.catch(() => {})
  let sourceMeasure: Measure
  try {
    sourceMeasure = await measureSource(query.source, sides)
  } catch (error) {
    return done({ status: 'failed', sourceRows: null, targetRows: null, error: describe('source', error) })
  }
  if (!targetRead) {
    return done({
      status: 'missing',
      sourceRows: sourceMeasure.rows,
      targetRows: null,
      sourceChecksum: sourceMeasure.checksum,
      detail: 'the target table does not exist',
    })
  }
  let targetMeasure: Measure
  try {
    targetMeasure = await targetRead
  } catch (error) {
    return done({
      status: 'failed',
      sourceRows: sourceMeasure.rows,
      targetRows: null,
      sourceChecksum: sourceMeasure.checksum,
      error: describe('target', error),
    })
  }
  const rows = { sourceRows: sourceMeasure.rows, targetRows: targetMeasure.rows }
  const checksums = { sourceChecksum: sourceMeasure.checksum, targetChecksum: targetMeasure.checksum }
  if (sourceMeasure.rows !== targetMeasure.rows) {
    const diff = targetMeasure.rows - sourceMeasure.rows
    return done({
      status: 'different',
      ...rows,
      ...checksums,
      detail: `the target has ${Math.abs(diff).toLocaleString('en-US')} ${diff > 0 ? 'more' : 'fewer'} rows`,
    })
  }
  if (sourceMeasure.checksum !== targetMeasure.checksum) {
    return done({
      status: 'different',
      ...rows,
      ...checksums,
      detail: 'same row count, but the rows differ (checksums differ)',
    })
  }
  return done({ status: 'same', ...rows, ...checksums })
}

/**
 * The count (and checksum) query for each side. The checksum is the fingerprint `mode: sync` and
 * `verify: checksum` compare (src/steps/sync/fingerprint.ts): a hash of each row's text form
 * `ROW(c1, c2, …)::text` over the copied columns in the source's order (so a target whose physical column
 * order differs still compares equal), summed so that row order does not matter.
 */
function measureQuery(
  plan: TablePlan,
  checksum: boolean,
  hashing: Hashing,
): { source: string; target: string } {
  // The source's values as the target holds them after COPY (hashedColumns): a target column of a wider
  // type is no difference.
  const select = (relation: string, columns: readonly HashedColumn[], where?: string) => {
    const filter = where ? ` WHERE (${where})` : ''
    if (!checksum) return `SELECT count(*)::text AS rows FROM ${relation} AS t${filter}`
    return `SELECT rows, first || ':' || second AS checksum FROM (${wholeFingerprintSql(relation, columns, hashing, where)}) AS fingerprint`
  }
  const asTarget = hashedColumns(plan, { asTarget: true })
  const source =
    plan.source.kind === 'query'
      ? select(`(${plan.source.query})`, asTarget)
      : select(`ONLY ${plan.source.table.ref.sql}`, asTarget, plan.source.where)
  return { source, target: select(`ONLY ${plan.target.sql}`, hashedColumns(plan)) }
}

function measureSource(sql: string, sides: Sides): Promise<Measure> {
  // The snapshot's read transaction has no statement_timeout: reading every row is like a COPY.
  return sides.source.withTransaction((client) => measure(client, sql), {
    begin: (client) => sides.snapshot.begin(client),
  })
}

function measureTarget(sql: string, target: Database): Promise<Measure> {
  // Reading every row is like a COPY, not a catalog statement: timeouts.statement does not apply.
  return target.withTransaction((client) => measure(client, sql), {
    mode: READ_ONLY_SNAPSHOT,
    statementTimeoutMs: 0,
  })
}

async function measure(client: pg.ClientBase, sql: string): Promise<Measure> {
  const { rows } = await client.query<{ rows: string; checksum?: string }>(sql)
  const row = rows[0]!
  return {
    rows: Number(row.rows),
    // The two sums are long decimal numbers; a short hex digest of them is enough to compare and to show.
    checksum:
      row.checksum === undefined
        ? undefined
        : createHash('sha256').update(row.checksum).digest('hex').slice(0, 16),
  }
}

function describe(side: 'source' | 'target', error: unknown): ErrorInfo {
  const info = errorInfo(error)
  return { ...info, message: `reading the ${side} failed: ${info.message}` }
}
