import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import { quoteIdent, quoteLiteral } from '../../db/table-ref.js'
import { TablehaulError, messageOf } from '../../errors.js'
import { copyIn } from '../copy/copy-in.js'
import { copyOut } from '../copy/copy-out.js'
import type { TablePlan } from '../plan/planner.js'
import { type Fingerprint, bucketOf, hashHalves, rowHash } from './fingerprint.js'

/** How many rows a bucket holds on average: 1 % of rows changed at random then touches ~15 % of buckets. */
export const ROWS_PER_BUCKET = 16

/**
 * Above this share of differing buckets a reload costs less than finding and applying the differences:
 * with 16 rows per bucket, 90 % of buckets differ when about 13 % of the rows changed at random.
 */
export const SWITCH_TO_REPLACE_SHARE = 0.9

/** work_mem of a sync's transactions on both sides: a hash table of ~100 bytes per bucket fits up to ~600k buckets. */
const WORK_MEM = '64MB'

/** Keys fetched from the source per COPY: the statement carries them as array literals. */
const KEYS_PER_FETCH = 5000

/** The differences a sync wrote, and what it moved to find them. */
export interface SyncCounts {
  readonly inserted: number
  readonly updated: number
  readonly deleted: number
  readonly unchanged: number
}

export type SyncOutcome =
  | {
      readonly kind: 'synced'
      /** Rows of the source table (and of the target table once applied). */
      readonly rows: number
      /** Bytes of COPY data that moved: bucket fingerprints, key hashes and the differing rows. */
      readonly bytes: number
      readonly counts: SyncCounts
      /** The source table's whole fingerprint, from the same pass (verify: checksum compares it). */
      readonly source: Fingerprint
    }
  | {
      /** Finding the differences would cost more than a reload: the caller replaces the table instead. */
      readonly kind: 'replace'
      readonly reason: string
      readonly bytes: number
    }

export interface TableSyncerOptions {
  readonly plan: TablePlan
  /** In the run's snapshot. */
  readonly sourceClient: pg.ClientBase
  /** In the table's transaction on the target. */
  readonly targetClient: pg.ClientBase
  /** Called whenever bytes arrive or a statement ends (the copy's watchdog and progress). */
  readonly onActivity: (bytes: number) => void
  /** Throws when the copy was stopped or its watchdog fired. */
  readonly stillGoing: () => void
  /** Called as the changed rows start to move, and as they are applied: each phase has its own bound. */
  readonly onPhase?: ((phase: 'fetching' | 'applying') => void) | undefined
  /** @default SWITCH_TO_REPLACE_SHARE */
  readonly switchShare?: number | undefined
}

/**
 * `mode: sync` for one table whose key (primary key, or unique index on NOT NULL columns) exists on both
 * sides. Both servers hash every row (see fingerprint.ts) and sum the hashes per bucket of keys; only the
 * buckets whose sums differ are looked at row by row, and only the rows that differ travel: into a
 * temporary table on the target, from which one DELETE and one INSERT apply them. Everything happens in the
 * caller's target transaction: readers see the old rows until its COMMIT, and a failure leaves them.
 */
export class TableSyncer {
  private bytes = 0
  private readonly key: readonly string[]
  private readonly columns: readonly string[]

  constructor(private readonly options: TableSyncerOptions) {
    const { plan } = options
    if (!plan.syncKey || plan.source.kind !== 'table')
      throw new Error(`${plan.target.display} has no key to sync by`)
    this.key = plan.syncKey
    this.columns = plan.columns.map((column) => column.name)
  }

  async sync(): Promise<SyncOutcome> {
    const { stillGoing } = this.options
    const buckets = this.bucketCount()
    // One group per bucket: with room for them, the servers hash-aggregate instead of sorting to disk.
    const memory = `SET LOCAL work_mem = '${WORK_MEM}'`
    await this.target(memory)
    await this.options.sourceClient.query(memory).catch((error: unknown) => {
      throw this.sideError('source', error)
    })
    const { dirty, source } = await this.compareBuckets(buckets)
    stillGoing()
    const share = dirty.length / buckets
    if (share > (this.options.switchShare ?? SWITCH_TO_REPLACE_SHARE) && source.rows > 0) {
      return {
        kind: 'replace',
        reason: `${Math.round(share * 100)} % of the key buckets differ, so a reload costs less than the differences`,
        bytes: this.bytes,
      }
    }
    if (dirty.length === 0) {
      return {
        kind: 'synced',
        rows: source.rows,
        bytes: this.bytes,
        counts: { inserted: 0, updated: 0, deleted: 0, unchanged: source.rows },
        source,
      }
    }
    const bitmap = bucketBitmap(dirty, buckets)
    await this.compareRows(bitmap, buckets)
    stillGoing()
    const { changed, updated } = await this.findChanges()
    stillGoing()
    this.options.onPhase?.('fetching')
    await this.fetchChangedRows(changed)
    stillGoing()
    this.options.onPhase?.('applying')
    const deleted = await this.apply(changed)
    return {
      kind: 'synced',
      rows: source.rows,
      bytes: this.bytes,
      counts: {
        inserted: changed - updated,
        updated,
        deleted: deleted - updated,
        unchanged: source.rows - changed,
      },
      source,
    }
  }

  /**
   * Enough buckets for ROWS_PER_BUCKET rows each, by the larger estimate of the two sides: the target was
   * analysed by the copy that filled it, the source may never have been.
   */
  private bucketCount(): number {
    const { plan } = this.options
    const estimate = Math.max(plan.estimatedRows ?? 0, plan.targetTable?.estimatedRows ?? 0, 1)
    return Math.min(Math.max(Math.ceil(estimate / ROWS_PER_BUCKET), 1), 1 << 26)
  }

  /** Pass 1: per bucket, row count and hash sums on each side; returns the buckets that differ. */
  private async compareBuckets(buckets: number): Promise<{ dirty: number[]; source: Fingerprint }> {
    const { targetClient } = this.options
    const halves = hashHalves('h')
    const perBucket = (relation: string, where: string | undefined) =>
      `SELECT b, count(*) AS n, sum(${halves.first}) AS s1, sum(${halves.second}) AS s2
         FROM (SELECT ${bucketOf('t', this.key, buckets)} AS b, ${rowHash('t', this.columns)} AS h
                 FROM ${relation} AS t${where ? ` WHERE (${where})` : ''}) AS hashed
        GROUP BY b`
    await this.target(
      `CREATE TEMP TABLE ${TEMP.buckets} (b int4 NOT NULL, n int8 NOT NULL, s1 numeric NOT NULL, s2 numeric NOT NULL) ON COMMIT DROP`,
    )
    await this.move(
      `COPY (${perBucket(`ONLY ${this.sourceTable}`, this.sourceWhere)}) TO STDOUT`,
      `COPY ${TEMP.buckets} (b, n, s1, s2) FROM STDIN`,
    )
    const totals = await this.target<{ rows: string; first: string; second: string }>(
      `SELECT coalesce(sum(n), 0)::text AS rows, coalesce(sum(s1), 0)::text AS first, coalesce(sum(s2), 0)::text AS second FROM ${TEMP.buckets}`,
    )
    const total = totals.rows[0]!
    const { rows } = await targetClient.query<{ b: number }>(
      `SELECT coalesce(s.b, t.b) AS b
         FROM ${TEMP.buckets} AS s
         FULL JOIN (${perBucket(`ONLY ${this.options.plan.target.sql}`, undefined)}) AS t ON t.b = s.b
        WHERE s.n IS DISTINCT FROM t.n OR s.s1 IS DISTINCT FROM t.s1 OR s.s2 IS DISTINCT FROM t.s2`,
    )
    this.options.onActivity(this.bytes)
    return {
      dirty: rows.map((row) => row.b),
      source: { rows: Number(total.rows), first: total.first, second: total.second },
    }
  }

  /**
   * Pass 2: key and row hash of every row in a differing bucket, from the source into a temporary table
   * on the target, and the same from the target table itself.
   */
  private async compareRows(bitmap: string, buckets: number): Promise<void> {
    const keyList = this.key.map(quoteIdent).join(', ')
    const inDirty = `pg_catalog.get_bit(${bitmap}::bytea, ${bucketOf('t', this.key, buckets)}) = 1`
    const keyColumns = this.key.map((name) => `t.${quoteIdent(name)}`).join(', ')
    await this.target(
      `CREATE TEMP TABLE ${TEMP.sourceRows} ON COMMIT DROP AS SELECT ${keyList} FROM ONLY ${this.options.plan.target.sql} WITH NO DATA`,
    )
    await this.target(`ALTER TABLE ${TEMP.sourceRows} ADD COLUMN ${HASH} text`)
    const where = this.sourceWhere ? `(${this.sourceWhere}) AND ` : ''
    await this.move(
      `COPY (SELECT ${keyColumns}, ${rowHash('t', this.columns)} FROM ONLY ${this.sourceTable} AS t WHERE ${where}${inDirty}) TO STDOUT`,
      `COPY ${TEMP.sourceRows} (${keyList}, ${HASH}) FROM STDIN`,
    )
    await this.target(
      `CREATE TEMP TABLE ${TEMP.targetRows} ON COMMIT DROP AS
       SELECT ${keyColumns}, ${rowHash('t', this.columns)} AS ${HASH} FROM ONLY ${this.options.plan.target.sql} AS t WHERE ${inDirty}`,
    )
    // The planner joins the temporary tables better once it knows their sizes.
    await this.target(`ANALYZE ${TEMP.sourceRows}; ANALYZE ${TEMP.targetRows}`)
  }

  /**
   * The source rows the target lacks exactly (new, or changed: same key by `=`, other text), and how many
   * of them replace a target row with the same key.
   */
  private async findChanges(): Promise<{ changed: number; updated: number }> {
    const sameKey = (a: string, b: string) =>
      this.key.map((name) => `${a}.${quoteIdent(name)} = ${b}.${quoteIdent(name)}`).join(' AND ')
    const keyList = this.key.map((name) => `s.${quoteIdent(name)}`).join(', ')
    await this.target(
      `CREATE TEMP TABLE ${TEMP.changes} ON COMMIT DROP AS
       SELECT ${keyList}, EXISTS (SELECT 1 FROM ${TEMP.targetRows} AS t WHERE ${sameKey('t', 's')}) AS replaces
         FROM ${TEMP.sourceRows} AS s
        WHERE NOT EXISTS (SELECT 1 FROM ${TEMP.targetRows} AS t WHERE ${sameKey('t', 's')} AND t.${HASH} = s.${HASH})`,
    )
    const { rows } = await this.target<{ changed: string; updated: string }>(
      `SELECT count(*)::text AS changed, count(*) FILTER (WHERE replaces)::text AS updated FROM ${TEMP.changes}`,
    )
    return { changed: Number(rows[0]!.changed), updated: Number(rows[0]!.updated) }
  }

  /**
   * Pass 3: the changed rows themselves, fetched from the source by key in batches (a cursor over the
   * target's list of keys; the source reads them through its key index) into a temporary table shaped
   * like the target's columns.
   */
  private async fetchChangedRows(expected: number): Promise<void> {
    const { plan, targetClient } = this.options
    const columnList = this.columns.map(quoteIdent).join(', ')
    await this.target(
      `CREATE TEMP TABLE ${TEMP.rows} ON COMMIT DROP AS SELECT ${columnList} FROM ONLY ${plan.target.sql} WITH NO DATA`,
    )
    if (expected === 0) return
    const source = plan.source.kind === 'table' ? plan.source.table : undefined
    const typeOf = (name: string) => source?.columns.find((column) => column.name === name)?.type ?? 'text'
    const format = plan.format === 'binary' ? 'binary' : 'text'
    await this.target(
      `DECLARE tablehaul_sync_keys NO SCROLL CURSOR FOR SELECT ${this.key.map((name) => `${quoteIdent(name)}::text`).join(', ')} FROM ${TEMP.changes}`,
    )
    let fetched = 0
    while (true) {
      this.options.stillGoing()
      const batch = await targetClient.query({
        text: `FETCH ${KEYS_PER_FETCH} FROM tablehaul_sync_keys`,
        rowMode: 'array',
      })
      if (batch.rows.length === 0) break
      const rows = batch.rows as string[][]
      const arrays = this.key.map(
        (_, index) =>
          `pg_catalog.unnest(${quoteLiteral(arrayLiteral(rows.map((row) => row[index]!)))}::text[])`,
      )
      const names = this.key.map((_, index) => `k${index}`)
      const casts = this.key.map((name, index) => `u.${names[index]}::${typeOf(name)}`)
      const tuple = (items: string[]) => (items.length === 1 ? items[0]! : `(${items.join(', ')})`)
      const matches = `${tuple(this.key.map((name) => `t.${quoteIdent(name)}`))} IN (SELECT ${casts.join(', ')} FROM ROWS FROM (${arrays.join(', ')}) AS u(${names.join(', ')}))`
      const where = this.sourceWhere ? `(${this.sourceWhere}) AND ` : ''
      const selected = this.columns.map((name) => `t.${quoteIdent(name)}`).join(', ')
      fetched += await this.move(
        `COPY (SELECT ${selected} FROM ONLY ${this.sourceTable} AS t WHERE ${where}${matches}) TO STDOUT WITH (FORMAT ${format})`,
        `COPY ${TEMP.rows} (${columnList}) FROM STDIN WITH (FORMAT ${format})`,
      )
    }
    await this.target('CLOSE tablehaul_sync_keys')
    if (fetched !== expected) {
      throw new TablehaulError(
        'ROW_COUNT_MISMATCH',
        `the source sent ${fetched} of the ${expected} changed rows it was asked for by key`,
        {
          hint: 'the transaction was rolled back; run again, and report it if it repeats',
          table: plan.target.display,
        },
      )
    }
  }

  /**
   * One DELETE of every target row in a differing bucket that the source does not have exactly (vanished,
   * or changed), then one INSERT of the changed source rows. A row whose key changed is one of each.
   * Returns how many rows the DELETE removed.
   */
  private async apply(changed: number): Promise<number> {
    const { plan } = this.options
    const sameKey = (a: string, b: string) =>
      this.key.map((name) => `${a}.${quoteIdent(name)} = ${b}.${quoteIdent(name)}`).join(' AND ')
    const deleted = await this.target(
      `DELETE FROM ONLY ${plan.target.sql} AS t USING ${TEMP.targetRows} AS d
        WHERE ${sameKey('t', 'd')}
          AND NOT EXISTS (SELECT 1 FROM ${TEMP.sourceRows} AS s WHERE ${sameKey('s', 'd')} AND s.${HASH} = d.${HASH})`,
    )
    if (changed === 0) return deleted.rowCount ?? 0
    const columnList = this.columns.map(quoteIdent).join(', ')
    // The source's values of identity columns are kept, as COPY keeps them.
    const overriding = plan.targetTable?.columns.some((column) => column.identity === 'a')
      ? ' OVERRIDING SYSTEM VALUE'
      : ''
    const inserted = await this.target(
      `INSERT INTO ${plan.target.sql} (${columnList})${overriding} SELECT ${columnList} FROM ${TEMP.rows}`,
    )
    if (inserted.rowCount !== changed) {
      throw new TablehaulError(
        'ROW_COUNT_MISMATCH',
        `${changed} changed rows came from the source but ${inserted.rowCount ?? 0} were inserted`,
        {
          hint: 'a trigger or rule on the target table may have dropped rows; the transaction was rolled back',
          table: plan.target.display,
        },
      )
    }
    return deleted.rowCount ?? 0
  }

  private get sourceTable(): string {
    const { plan } = this.options
    return plan.source.kind === 'table' ? plan.source.table.ref.sql : ''
  }

  private get sourceWhere(): string | undefined {
    const { plan } = this.options
    return plan.source.kind === 'table' ? plan.source.where : undefined
  }

  private async target<R extends pg.QueryResultRow>(sql: string): Promise<pg.QueryResult<R>> {
    try {
      const result = await this.options.targetClient.query<R>(sql)
      this.options.onActivity(this.bytes)
      return result
    } catch (error) {
      throw this.sideError('target', error)
    }
  }

  /** One COPY from the source into the target; returns the rows the target took. */
  private async move(from: string, into: string): Promise<number> {
    const { sourceClient, targetClient, onActivity } = this.options
    let counted = 0
    const out = sourceClient.query(
      copyOut(from, () => {
        onActivity(this.bytes + out.dataBytes)
      }),
    )
    const inn = targetClient.query(copyIn(into))
    let failed: 'source' | 'target' | undefined
    out.once('error', () => (failed ??= 'source'))
    inn.once('error', () => (failed ??= 'target'))
    try {
      await pipeline(out, inn)
    } catch (error) {
      throw this.sideError(failed ?? 'target', error)
    }
    this.bytes += out.dataBytes
    counted = inn.rowCount
    onActivity(this.bytes)
    return counted
  }

  private sideError(side: 'source' | 'target', error: unknown): TablehaulError {
    if (error instanceof TablehaulError) return error
    const cause = error as { where?: string } | undefined
    const context = cause?.where ? ` (${cause.where.split('\n')[0]})` : ''
    return new TablehaulError(
      'TABLE_COPY_FAILED',
      `${side} failed during sync: ${messageOf(error)}${context}`,
      {
        cause: error,
        table: this.options.plan.target.display,
      },
    )
  }
}

/** Temporary tables of a sync; ON COMMIT DROP, and a rolled-back transaction drops them too. */
const TEMP = {
  buckets: 'pg_temp.tablehaul_sync_buckets',
  sourceRows: 'pg_temp.tablehaul_sync_source',
  targetRows: 'pg_temp.tablehaul_sync_target',
  changes: 'pg_temp.tablehaul_sync_changes',
  rows: 'pg_temp.tablehaul_sync_rows',
} as const

/** The row hash column of the temporary tables: a name no key column of a user table is likely to have. */
const HASH = quoteIdent('tablehaul row hash')

/**
 * The set of differing buckets as a bytea literal, one bit per bucket, in get_bit's order: bit n is bit
 * n % 8 (from the least significant) of byte n / 8.
 */
function bucketBitmap(dirty: readonly number[], buckets: number): string {
  const bits = Buffer.alloc(Math.ceil(buckets / 8))
  for (const bucket of dirty) bits[bucket >> 3]! |= 1 << (bucket & 7)
  return `'\\x${bits.toString('hex')}'`
}

/** A text[] literal of `values` (never NULL: key columns are NOT NULL). */
function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`
}
