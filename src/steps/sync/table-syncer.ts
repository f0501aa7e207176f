import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import copyStreams from 'pg-copy-streams'
import { withSavepoint } from '../../db/database.js'
import { type KeyEquality, keyEqualityOf, keyEquals } from '../../catalog/key-equality.js'
import { adviceFor } from '../../db/sql-state-advice.js'
import { quoteIdent, quoteLiteral } from '../../db/table-ref.js'
import { TablehaulError, messageOf, sqlStateOf } from '../../errors.js'
import { copyIn } from '../copy/copy-in.js'
import { copyOut } from '../copy/copy-out.js'
import { type TablePlan, rowEstimate } from '../plan/planner.js'
import { BucketReader } from './bucket-reader.js'
import {
  type Fingerprint,
  type HashedColumn,
  type Hashing,
  bucketOf,
  bucketOfHash,
  hashHalves,
  hashedColumns,
  hashingOf,
  int8,
  rowHash,
  rowText,
} from './fingerprint.js'
import type { SinceConditions } from './since.js'

/** How many rows a bucket holds on average: 1 % of rows changed at random then touches ~15 % of buckets. */
export const ROWS_PER_BUCKET = 16

/**
 * Above this share of differing buckets a reload costs less than finding and applying the differences:
 * with 16 rows per bucket, 60 % of buckets differ when about 6 % of the rows changed at random. Measured
 * (npm run bench -- --cases sync, scale 1): at 10 % changed, with 80 % of buckets differing, a sync cost
 * 3.4 times a reload's wall time; at 1 %, about as much as a reload.
 */
export const SWITCH_TO_REPLACE_SHARE = 0.6

/**
 * When the source's statistics count changes to at least this share of its rows since the last sync
 * (sync-mark.ts), the table is reloaded without comparing first: comparing would cost most of a reload
 * and find most buckets differing anyway.
 */
export const PREDICTED_RELOAD_SHARE = 0.1

/**
 * A sample of the source's pages that estimates this share of its rows or more written since the last copy
 * sends the table to a reload before counting (see sampledWrittenShare): the share at which a counted one
 * does. Measured on standard scale 1 (npm run bench -- --cases sync), at 10 % written the pass that counts
 * them cost a reload 1.37 times replace's wall time; near the share, either choice costs about the same.
 */
const SAMPLED_RELOAD_SHARE = PREDICTED_RELOAD_SHARE

/** Rows a sample of the source's pages reads (sampledWrittenShare): ~1 % of 4M rows, read in ~20 ms. */
const SAMPLED_ROWS = 40_000

/** One side's rows, and those written since the last copy (see TableSyncer.syncWritten). */
interface WrittenCount {
  readonly rows: number
  readonly written: number
  readonly highWater?: string | undefined
  /** Per bucket, when the keys were counted in the same pass. */
  readonly counts?: Int32Array | undefined
  /** Per bucket, the sum of the keys' offsets in their range (modulo 2^64), for buckets that are ranges. */
  readonly sums?: BigInt64Array | undefined
}

/** work_mem of a sync's transactions on both sides: a hash table of ~100 bytes per bucket fits up to ~600k buckets. */
const WORK_MEM = '64MB'

/** The most bytes of written rows the source sorts by key before sending them (a quarter of WORK_MEM). */
const SORTED_FETCH_BYTES = 16 * 1024 * 1024

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
      /**
       * The source table's whole fingerprint, from the same pass (verify: checksum compares it, each value
       * as the target holds it); a sync that read only the rows written since the last copy has none.
       */
      readonly source?: Fingerprint | undefined
      /**
       * How its rows were hashed (the target's fingerprint must be taken the same way); none when it
       * hashed no row.
       */
      readonly hashing?: Hashing | undefined
      /** What the `changed:` hint missed and the fingerprints found, for the table's notes. */
      readonly hintMissed?: string | undefined
      /** The (sub)transaction ids, 32-bit, under which rows were written (see since.ts). */
      readonly writers: readonly string[]
      /** Which rows were compared: only those written since the last copy, or all. */
      readonly compared: 'written' | 'all'
      /** The `changed:` column's greatest value at the snapshot, when the comparison read it. */
      readonly highWater?: string | undefined
      /** What became of the target's columns that the source does not have. */
      readonly targetOnly: TargetOnlyReset
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
  /** The `changed:` column and the high-water mark the last sync recorded for it. */
  readonly hint?: SyncHint | undefined
  /**
   * Lifts, inside the table's transaction, the foreign keys between this table and other tables of the
   * run that were kept for the sync; returns how many it lifted (0: none to lift).
   */
  readonly liftKeys?: ((client: pg.ClientBase) => Promise<number>) | undefined
}

/** What TableSyncer.resetTargetOnlyColumns did to the target's columns that the source does not have. */
export interface TargetOnlyReset {
  /** Rows in which such columns were set back to their default. */
  readonly rows: number
  /** The columns set back to their default where they differed. */
  readonly reset: readonly string[]
  /** The columns left as they were: their default is not the same in every row. */
  readonly kept: readonly string[]
}

/** Carries a default's value out of the probe, whose savepoint is rolled back by throwing. */
class DefaultProbed extends Error {
  constructor(readonly value: string | null) {
    super('default probed')
  }
}

export interface SyncHint {
  readonly column: string
  readonly highWater: string
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
  /** The columns as each side hashes them (see hashedColumns). */
  private readonly hashed: Readonly<Record<'source' | 'target', readonly HashedColumn[]>>
  private hashing: Hashing | undefined
  private readonly writers = new Set<string>()
  private prepared = false
  /** TEMP.writer exists and wal_compression was set (beforeWriting). */
  private writing = false
  /** Each key column's `=` on each side (see keyEqualityOf). */
  private keyEquality: Record<'source' | 'target', ReadonlyMap<string, KeyEquality>> = {
    source: new Map(),
    target: new Map(),
  }

  constructor(private readonly options: TableSyncerOptions) {
    const { plan } = options
    if (!plan.syncKey || plan.source.kind !== 'table')
      throw new Error(`${plan.target.display} has no key to sync by`)
    this.key = plan.syncKey
    this.columns = plan.columns.map((column) => column.name)
    this.hashed = { source: hashedColumns(plan, { asTarget: true }), target: hashedColumns(plan) }
  }

  async sync(): Promise<SyncOutcome> {
    const { stillGoing, hint } = this.options
    await this.prepare()
    const buckets = this.bucketCount(await this.rowsWithoutEstimate())
    await this.decideHashing()
    const hinted = hint ? await this.applyHint(hint) : { inserted: 0, updated: 0 }
    stillGoing()
    const { dirty, dirtyCount, source } = await this.compareBuckets(buckets)
    stillGoing()
    const share = dirtyCount / buckets
    if (share > (this.options.switchShare ?? SWITCH_TO_REPLACE_SHARE) && source.rows > 0) {
      return {
        kind: 'replace',
        reason: `${Math.round(share * 100)} % of the key buckets differ, so a reload costs less than the differences`,
        bytes: this.bytes,
      }
    }
    let found = { changed: 0, inserted: 0, updated: 0, deleted: 0 }
    if (dirtyCount > 0) {
      await this.compareRows(bucketBitmap(dirty), buckets)
      stillGoing()
      const changed = await this.findChanges()
      stillGoing()
      this.options.onPhase?.('fetching')
      await this.fetchChangedRows(changed)
      stillGoing()
      this.options.onPhase?.('applying')
      found = { changed, ...(await this.apply(changed)) }
    }
    const inserted = hinted.inserted + found.inserted
    const updated = hinted.updated + found.updated
    const targetOnly = await this.resetTargetOnlyColumns()
    return {
      kind: 'synced',
      targetOnly,
      rows: source.rows,
      bytes: this.bytes,
      counts: {
        inserted,
        updated,
        deleted: found.deleted,
        unchanged: source.rows - inserted - updated,
      },
      source,
      hashing: this.hashing!,
      writers: [...this.writers],
      compared: 'all',
      hintMissed:
        hint && found.changed > 0
          ? `the changed: hint missed ${found.changed} new or changed row(s) whose ${hint.column} is not past ${hint.highWater} (a writer that does not set it, or a change made on the target?); the fingerprints found them`
          : undefined,
    }
  }

  /**
   * The rows written since the last copy, and only those (see since.ts): the source's rows whose version
   * the last copy's snapshot may not have seen travel into a temporary table, those equal to their target
   * row (by text) are dropped, the rest updated or inserted. The target must hold exactly what the last copy
   * left (no row written since by anyone else, as many rows): then it holds every key the source has, and
   * the rows it has in excess are the source's deletes, found by counting keys per bucket on both sides.
   * Returns why the table must be compared in full instead (the caller then runs `sync()` in the same
   * transaction; whatever this wrote is correct and stays).
   */
  async syncSince(since: SinceConditions, rowsLeft: number): Promise<SyncOutcome | string> {
    await this.prepare()
    // Its statements read few rows by index, or scan once with a trivial filter: compiling them (JIT, which
    // the planner's estimates for the whole table's rows would trigger) costs more than it saves.
    const jit = (setting: string) => Promise.all([this.target(setting), this.source(setting)])
    await jit('SET LOCAL jit = off')
    const outcome = await this.syncWritten(since, rowsLeft)
    await jit('RESET jit')
    // Comparing every row next, in this transaction, creates temporary tables of the same names.
    if (typeof outcome === 'string')
      await this.target(`DROP TABLE IF EXISTS ${TEMP.rows}, ${TEMP.sourceRows}, ${TEMP.vanished}`)
    return outcome
  }

  private async syncWritten(since: SinceConditions, rowsLeft: number): Promise<SyncOutcome | string> {
    const { plan } = this.options
    const sampled = await this.sampledWrittenShare(since)
    if (sampled !== undefined && sampled >= SAMPLED_RELOAD_SHARE)
      return {
        kind: 'replace',
        reason: `about ${Math.round(sampled * 100)} % of the source's rows were written since the last copy (a sample of its pages), so a reload costs less than the differences`,
        bytes: this.bytes,
      }
    // One pass over each table, both at once: its rows, and those written since the last copy; on the
    // source, the `changed:` column's high-water mark too, which the next sync's hint starts from. When the
    // source's statistics count deletes since, the same pass counts the keys per bucket, which finding
    // them takes (see below), instead of a second pass over both tables after the writes.
    const changed = plan.changedColumn
    // Only by ranges of an integer key: an update then never moves a key to another bucket (a key written
    // otherwise but equal by `=`, such as numeric 1.0 for 1, is hashed by its text into another one).
    const keyed =
      since.deletes !== undefined && since.deletes > 0 && !changed && this.integerKey()
        ? await this.keyBuckets(this.foldedBuckets(since.deletes))
        : undefined
    const counted = keyed
      ? await Promise.all([
          this.countKeys('source', keyed, since.sourceWritten('t')),
          this.countKeys('target', keyed, since.targetWritten('t')),
        ])
      : await this.countWritten(since, changed)
    const [{ rows: sourceRows, written }, { rows: targetRows, written: targetWritten }] = counted
    const highWater = changed ? { highWater: counted[0].highWater } : {}
    // An append records no position (its table is not the source's), so its rows count here too.
    if (targetWritten > 0)
      return `${targetWritten} row(s) of the target table were written since the last sync, replace or recreate by another writer (a run with mode: append, or a session on the target)`
    if (targetRows !== rowsLeft)
      return `the target table has ${targetRows} rows where the last copy left ${rowsLeft}`
    this.options.stillGoing()
    if (sourceRows > 0 && written / sourceRows >= PREDICTED_RELOAD_SHARE) {
      const share = `${Math.round((written / sourceRows) * 100)} % of the source's rows`
      // Counted exactly, that share is a reload's work. Otherwise the last snapshot's xmin may have been
      // held back by a transaction in progress, and rows written before it count too: the statistics,
      // or the fingerprints, decide.
      if (!since.exact) return `${share} may have been written since the last copy`
      if (this.options.switchShare !== Infinity)
        return {
          kind: 'replace',
          reason: `${share} were written since the last copy, so a reload costs less than the differences`,
          bytes: this.bytes,
        }
    }
    let changes = { inserted: 0, updated: 0 }
    // The keys the writes add, per bucket: the target's counts from before them, plus these, are its counts
    // after them.
    let added: (KeySums & { readonly counts: Int32Array }) | undefined
    let vanished: VanishedKeys | string | undefined
    // Whether the source lacks the keys the counts name deleted, asked while the target writes.
    let onSource: Promise<number> | undefined
    if (written > 0) {
      this.options.onPhase?.('fetching')
      const changedRows = await this.fetchWritten(since, written)
      this.options.stillGoing()
      this.options.onPhase?.('applying')
      if (keyed && changedRows > 0) added = await this.newKeys(keyed)
      if (keyed) {
        vanished = vanishedKeys(keyed, counted[0], counted[1], added)
        if (typeof vanished === 'string') return vanished
        onSource = this.stillOnSource(vanished.named)
        onSource.catch(() => {})
      }
      if (changedRows > 0) changes = await this.liftingKeysIfNeeded(() => this.write(TEMP.rows, changedRows))
    }
    // The target now holds every key the source has (an old row, or one just written) and `excess` more,
    // where the source deleted: keys counted per bucket on both sides show in which buckets.
    const excess = targetRows + changes.inserted - sourceRows
    let deleted = 0
    if (excess < 0)
      return `the source has ${-excess} key(s) the target lacks although no row was written since the last copy`
    const newKeys = added?.counts.reduce((sum, n) => sum + n, 0)
    if (newKeys !== undefined && newKeys !== changes.inserted)
      return `${changes.inserted} row(s) were inserted but ${newKeys} new key(s) were counted`
    if (excess > 0) {
      const buckets =
        keyed ?? (await this.keyBuckets(Math.min(excess * BUCKETS_PER_DELETE, MAX_COUNTED_BUCKETS)))
      let keys = vanished
      if (keys === undefined) {
        const [source, target] = keyed
          ? [counted[0], counted[1]]
          : await Promise.all([this.countKeys('source', buckets), this.countKeys('target', buckets)])
        keys = vanishedKeys(buckets, source, target, added)
      }
      if (typeof keys === 'string') return keys
      const stillThere = await (onSource ?? this.stillOnSource(keys.named))
      // With any of them there, the premise the sums rest on (every source key is on the target once the
      // written rows are) does not hold.
      if (stillThere > 0) return `${stillThere} key(s) that the counts named deleted are still on the source`
      deleted = await this.deleteVanished(buckets, keys)
    }
    if (deleted !== excess)
      return `${excess} target row(s) had no source row by count, but ${deleted} were found by key`
    const targetOnly = await this.resetTargetOnlyColumns()
    return {
      kind: 'synced',
      targetOnly,
      rows: sourceRows,
      bytes: this.bytes,
      counts: {
        inserted: changes.inserted,
        updated: changes.updated,
        deleted,
        unchanged: sourceRows - changes.inserted - changes.updated,
      },
      hashing: this.hashing,
      writers: [...this.writers],
      compared: 'written',
      ...highWater,
    }
  }

  /**
   * The share of the source's rows written since the last copy, estimated from a sample of its pages
   * (TABLESAMPLE SYSTEM reads whole pages picked at random, about SAMPLED_ROWS rows), when the last
   * snapshot's unseen ids are known and the table is large enough for a sample to cost little against
   * counting: a clear majority written is a reload's work, and counting first would add a pass over both
   * tables to it. Undefined when it does not apply. A wrong estimate only costs time: a reload is exact.
   */
  private async sampledWrittenShare(since: SinceConditions): Promise<number | undefined> {
    const { plan } = this.options
    if (!since.exact || this.options.switchShare === Infinity) return undefined
    if (plan.source.kind !== 'table' || plan.source.table.kind !== 'r') return undefined
    const estimate = rowEstimate(plan)
    const percent = (100 * SAMPLED_ROWS) / estimate
    if (!(percent <= 10)) return undefined
    const { rows } = await this.source<{ rows: string; written: string }>(
      `SELECT count(*)::text AS rows, count(*) FILTER (WHERE ${since.sourceWritten('t')})::text AS written
         FROM ONLY ${this.sourceTable} AS t TABLESAMPLE SYSTEM (${percent.toFixed(4)})`,
    )
    const sampled = Number(rows[0]!.rows)
    return sampled >= SAMPLED_ROWS / 4 ? Number(rows[0]!.written) / sampled : undefined
  }

  /** Both tables' rows, and those written since the last copy, in one pass over each, both at once. */
  private async countWritten(
    since: SinceConditions,
    changed: string | undefined,
  ): Promise<[WrittenCount, WrittenCount]> {
    const count = (relation: string, written: string, extra = '') =>
      `SELECT count(*)::text AS rows, count(*) FILTER (WHERE ${written})::text AS written${extra} FROM ${relation} AS t`
    const [source, target] = await Promise.all([
      this.source<{ rows: string; written: string; high_water?: string | null }>(
        count(
          `ONLY ${this.sourceTable}`,
          since.sourceWritten('t'),
          changed ? `, pg_catalog.max(t.${quoteIdent(changed)})::text AS high_water` : '',
        ),
      ),
      this.target<{ rows: string; written: string }>(
        count(`ONLY ${this.options.plan.target.sql}`, since.targetWritten('t')),
      ),
    ])
    const side = (row: { rows: string; written: string; high_water?: string | null }): WrittenCount => ({
      rows: Number(row.rows),
      written: Number(row.written),
      highWater: row.high_water ?? undefined,
    })
    return [side(source.rows[0]!), side(target.rows[0]!)]
  }

  /**
   * One side's keys counted per bucket, as one COPY of `bucket, rows, written, 0` lines: with `written`
   * (a condition on the row alias t), also how many of them were written since the last copy.
   */
  private async countKeys(
    side: 'source' | 'target',
    keyed: KeyBuckets,
    written?: string,
  ): Promise<WrittenCount & { readonly counts: Int32Array }> {
    const relation = side === 'source' ? `ONLY ${this.sourceTable}` : `ONLY ${this.options.plan.target.sql}`
    const client = side === 'source' ? this.options.sourceClient : this.options.targetClient
    // OFFSET 0: see compareBuckets.
    const sql = `COPY (SELECT b, count(*), count(*) FILTER (WHERE w), ${keyed.range ? 'sum(o)' : '0'}
       FROM (SELECT ${keyed.bucket(side)} AS b, ${written ?? 'false'} AS w${keyed.range ? `, ${keyed.range.offset} AS o` : ''}
               FROM ${relation} AS t OFFSET 0) AS keyed
      GROUP BY b) TO STDOUT`
    return this.readCounts(keyed, () => client.query(copyTo(sql)), side)
  }

  /**
   * The keys of the rows left in the temporary table of changed rows that the target does not have yet,
   * per bucket: the rows the writes will insert. Each key probes the target's key index.
   */
  private async newKeys(keyed: KeyBuckets): Promise<KeySums & { readonly counts: Int32Array }> {
    const target = this.options.plan.target.sql
    const sql = `COPY (SELECT b, count(*), 0, ${keyed.range ? 'sum(o)' : '0'}
       FROM (SELECT ${keyed.bucket('target')} AS b${keyed.range ? `, ${keyed.range.offset} AS o` : ''} FROM ${TEMP.rows} AS t
              WHERE NOT EXISTS (SELECT 1 FROM ONLY ${target} AS x WHERE ${this.sameKey('x', 't')}) OFFSET 0) AS keyed
      GROUP BY b) TO STDOUT`
    return this.byKeyIndex(() =>
      this.readCounts(keyed, () => this.options.targetClient.query(copyTo(sql)), 'target'),
    )
  }

  private async readCounts(
    keyed: KeyBuckets,
    open: () => Readable,
    side: 'source' | 'target',
  ): Promise<WrittenCount & { readonly counts: Int32Array }> {
    const reader = new BucketReader(this.side(side, open))
    const counts = new Int32Array(keyed.buckets)
    // A BigInt64Array keeps each sum modulo 2^64, which is all that finding one vanished key needs.
    const sums = keyed.range ? new BigInt64Array(keyed.buckets) : undefined
    let rows = 0
    let written = 0
    try {
      for (let line = await reader.next(); line; line = await reader.next()) {
        counts[line.bucket] = line.rows
        if (sums) sums[line.bucket] = line.low
        rows += line.rows
        written += Number(line.high)
        this.options.onActivity(this.bytes + reader.bytes)
      }
    } catch (error) {
      reader.destroy()
      await reader.finished.catch(() => {})
      throw error
    }
    await reader.finished
    this.bytes += reader.bytes
    return { rows, written, counts, sums }
  }

  /**
   * The source rows written since the last copy into a temporary table, less those whose text equals
   * their target row's; returns how many are left to write.
   */
  private async fetchWritten(since: SinceConditions, expected: number): Promise<number> {
    const { plan } = this.options
    const columnList = this.columns.map(quoteIdent).join(', ')
    const format = plan.format === 'binary' ? 'binary' : 'text'
    await this.target(
      `CREATE TEMP TABLE ${TEMP.rows} ON COMMIT DROP AS SELECT ${columnList} FROM ONLY ${plan.target.sql} WITH NO DATA`,
    )
    const selected = this.columns.map((name) => `t.${quoteIdent(name)}`).join(', ')
    // In key order, the probes of the target's key index that follow read its pages in order, and the
    // rows the writes insert go to the index in order: measured on 64k of 4.2M rows, 0.85 s against 1.0 s
    // for the probes and 0.23 s against 0.38 s for the UPDATE. Only for an integer key, which sorts
    // cheaply, and when the rows fit the sort's memory by the table's average row: a sort that spills
    // writes temporary files on the source, which its temp_file_limit may refuse.
    const rowBytes = plan.estimatedBytes / Math.max(rowEstimate(plan), 1)
    const sorted = this.integerKey() && expected * rowBytes <= SORTED_FETCH_BYTES
    const order = sorted ? ` ORDER BY t.${quoteIdent(this.key[0]!)}` : ''
    const fetched = await this.move(
      `COPY (SELECT ${selected} FROM ONLY ${this.sourceTable} AS t WHERE ${since.sourceWritten('t')}${order}) TO STDOUT WITH (FORMAT ${format})`,
      `COPY ${TEMP.rows} (${columnList}) FROM STDIN WITH (FORMAT ${format})`,
    )
    if (fetched !== expected) {
      throw this.rowCountMismatch(
        `the source counted ${expected} rows written since the last copy but sent ${fetched}`,
        'the transaction was rolled back; run again, and report it if it repeats',
      )
    }
    await this.target(`ANALYZE ${TEMP.rows}`)
    // Equal text forms, not `=`: a value written differently is a change even when `=` calls it equal.
    const same = await this.byKeyIndex(() =>
      this.target(
        `DELETE FROM ${TEMP.rows} AS r USING ONLY ${plan.target.sql} AS t
          WHERE ${this.sameKey('t', 'r')} AND ${rowText('t', this.columns)} = ${rowText('r', this.columns)}`,
      ),
    )
    return fetched - (same.rowCount ?? 0)
  }

  /** How many of `keys` (of the integer key) the source has, each looked up in its key index. */
  private async stillOnSource(keys: readonly bigint[]): Promise<number> {
    let found = 0
    const column = quoteIdent(this.key[0]!)
    for (let start = 0; start < keys.length; start += KEYS_PER_FETCH) {
      const chunk = keys.slice(start, start + KEYS_PER_FETCH).map(String)
      const { rows } = await this.source<{ n: string }>(
        `SELECT count(*)::text AS n FROM ${keyArray(chunk)}
          WHERE EXISTS (SELECT 1 FROM ONLY ${this.sourceTable} AS t WHERE t.${column} = k.v)`,
      )
      found += Number(rows[0]!.n)
    }
    return found
  }

  /**
   * Deletes the target rows whose key the source no longer has: the keys `vanished` named, and in the
   * buckets it could not name them for, the target's keys the source's keys of those buckets (fetched into
   * a temporary table) lack. Returns how many rows it deleted.
   */
  private async deleteVanished(keyed: KeyBuckets, vanished: VanishedKeys): Promise<number> {
    const { plan } = this.options
    const keyList = this.key.map(quoteIdent).join(', ')
    const selected = this.key.map((name) => `t.${quoteIdent(name)}`).join(', ')
    await this.target(
      `CREATE TEMP TABLE ${TEMP.vanished} ON COMMIT DROP AS SELECT ${keyList} FROM ONLY ${plan.target.sql} WITH NO DATA`,
    )
    const named = vanished.named.map(String)
    for (let start = 0; start < named.length; start += KEYS_PER_FETCH)
      await this.target(
        `INSERT INTO ${TEMP.vanished} (${keyList}) SELECT k.v FROM ${keyArray(named.slice(start, start + KEYS_PER_FETCH))}`,
      )
    if (vanished.read) {
      await this.target(
        `CREATE TEMP TABLE ${TEMP.sourceRows} ON COMMIT DROP AS SELECT ${keyList} FROM ONLY ${plan.target.sql} WITH NO DATA`,
      )
      await this.move(
        `COPY (SELECT ${selected} FROM ${keyed.rowsIn(`ONLY ${this.sourceTable}`, vanished.read, 'source')}) TO STDOUT`,
        `COPY ${TEMP.sourceRows} (${keyList}) FROM STDIN`,
      )
      await this.target(`ANALYZE ${TEMP.sourceRows}`)
      // The keys to delete first, then the DELETE driven by them through the key index: as one statement,
      // the planner may scan the whole table and probe the keys per row (seen: minutes on 4M rows).
      await this.target(
        `INSERT INTO ${TEMP.vanished} (${keyList})
         SELECT ${selected} FROM ${keyed.rowsIn(`ONLY ${plan.target.sql}`, vanished.read, 'target')}
            AND NOT EXISTS (SELECT 1 FROM ${TEMP.sourceRows} AS s WHERE ${this.sameKey('s', 't')})`,
      )
    }
    await this.target(`ANALYZE ${TEMP.vanished}`)
    const deleted = await this.liftingKeysIfNeeded(() =>
      this.byKeyIndex(() =>
        this.target(
          `DELETE FROM ONLY ${plan.target.sql} AS d USING ${TEMP.vanished} AS v WHERE ${this.sameKey('d', 'v')}`,
        ),
      ),
    )
    return deleted.rowCount ?? 0
  }

  /**
   * How a sync of the rows written since the last copy groups keys into `buckets`: for a key of one integer column, by ranges of its values
   * (from the target's smallest to its largest key, which after the writes hold every source key), so that
   * the rows of a differing bucket are read through the key index; for any other key, by a hash of it,
   * which needs a scan of the whole table to find them. `rowsIn` is a FROM clause (alias t) and a WHERE
   * condition, to which more can be added with AND: the rows of `relation` in the buckets set in `bitmap`.
   */
  private async keyBuckets(buckets: number): Promise<KeyBuckets> {
    const keyColumns = (side: 'source' | 'target') =>
      this.hashed[side].filter((column) => this.key.includes(column.name))
    if (this.integerKey()) {
      const column = quoteIdent(this.key[0]!)
      const range = `SELECT min(${column})::text AS low, max(${column})::text AS high FROM ONLY`
      const [source, target] = await Promise.all([
        this.source<{ low: string | null; high: string | null }>(`${range} ${this.sourceTable}`),
        this.target<{ low: string | null; high: string | null }>(`${range} ${this.options.plan.target.sql}`),
      ])
      const ends = [source, target].flatMap(({ rows }) => [rows[0]!.low, rows[0]!.high])
      const values = ends.filter((value): value is string => value !== null).map(BigInt)
      const low = values.reduce((a, b) => (a < b ? a : b), values[0] ?? 0n)
      const high = values.reduce((a, b) => (a > b ? a : b), values[0] ?? 0n)
      // Keys spread over more than 2^62 values would overflow int8 as offsets: hashed instead.
      if (high - low < 1n << 62n) {
        const width = (high - low) / BigInt(buckets) + 1n
        return {
          buckets,
          bucket: () => `((t.${column}::int8 - ${int8(low)}) / ${int8(width)})::int4`,
          // sum(int4) adds in int8, cheaper than sum(int8) in numeric: measured 1.24 s against 1.36 s for
          // 4.2M keys.
          range: {
            low,
            width,
            offset: `((t.${column}::int8 - ${int8(low)}) % ${int8(width)})${width < 1n << 31n ? '::int4' : ''}`,
          },
          // A bucket's ends, as offsets from low, are capped at high's: buckets * width passes high - low by
          // up to buckets - 1, and low plus that overflows int8 (22003) when high is near its largest value.
          // A bucket read holds a key, so the cap never moves its ends past one of its keys.
          rowsIn: (relation, bitmap) =>
            `pg_catalog.generate_series(0, ${buckets - 1}) AS tablehaul_buckets(n) JOIN ${relation} AS t
               ON t.${column} BETWEEN ${int8(low)} + least(tablehaul_buckets.n::int8 * ${int8(width)}, ${int8(high - low)})
                              AND ${int8(low)} + least((tablehaul_buckets.n::int8 + ${int8(1)}) * ${int8(width)} - ${int8(1)}, ${int8(high - low)})
             WHERE pg_catalog.get_bit(${bitmap}::bytea, tablehaul_buckets.n) = 1`,
        }
      }
    }
    await this.decideHashing()
    const bucket = (side: 'source' | 'target') =>
      bucketOfHash(rowHash('t', keyColumns(side), this.hashing!), buckets)
    return {
      buckets,
      bucket,
      rowsIn: (relation, bitmap, side) =>
        `${relation} AS t WHERE pg_catalog.get_bit(${bitmap}::bytea, ${bucket(side)}) = 1`,
    }
  }

  /**
   * Buckets for the deletes the statistics count, BUCKETS_PER_DELETE each; and no more than 1,024 rows per
   * bucket by the row estimate, so that statistics that count too few deletes (a counter lost in a crash)
   * leave the rows read again per differing bucket bounded.
   */
  private foldedBuckets(deletes: number): number {
    const { plan } = this.options
    const estimate = rowEstimate(plan)
    const buckets = Math.max(deletes * BUCKETS_PER_DELETE, Math.ceil(estimate / 1024), 1)
    return Math.min(buckets, MAX_COUNTED_BUCKETS)
  }

  /** The key's columns in the key's order, as `side` hashes them. */
  private keyOf(side: 'source' | 'target'): HashedColumn[] {
    return this.key.map((name) => this.hashed[side].find((column) => column.name === name)!)
  }

  /** The key is one column of int2, int4 or int8: its buckets are ranges of values (keyBuckets). */
  private integerKey(): boolean {
    const keyColumns = this.hashed.target.filter((column) => this.key.includes(column.name))
    return keyColumns.length === 1 && [20, 21, 23].includes(keyColumns[0]!.typeOid ?? 0)
  }

  /**
   * Once per transaction: work_mem for one group per bucket on both sides (with room for them the servers
   * hash-aggregate instead of sorting to disk), and each key column's `=`. What only writing needs (the
   * table that tells which subtransaction writes, compressed page images) waits for the first write: most
   * tables of a nightly sync have nothing to write, and for thousands of small ones those statements
   * were a sixth of the run.
   */
  private async prepare(): Promise<void> {
    if (this.prepared) return
    const memory = `SET LOCAL work_mem = '${WORK_MEM}'`
    await this.target(memory)
    await this.source(memory)
    const equality = async (side: 'source' | 'target', client: pg.ClientBase, table: string) => {
      try {
        return await keyEqualityOf(client, table, this.key)
      } catch (error) {
        throw this.sideError(side, error)
      }
    }
    this.keyEquality = {
      source: await equality('source', this.options.sourceClient, this.sourceTable),
      target: await equality('target', this.options.targetClient, this.options.plan.target.sql),
    }
    this.prepared = true
  }

  /**
   * Changes scattered over a table dirty many pages once each, and the first change of a page after a
   * checkpoint writes the whole page to the WAL: about 8 kB per changed row when 1 % of the rows changed.
   * Compressed (wal_compression, for this transaction only), those page images shrank from 129 MB to 15 MB
   * for 1 % of 1M pgbench-like rows updated. Only a superuser, or a role granted SET on the parameter
   * (PostgreSQL 15+), may set it; lz4 is only there when the server was built with it. Otherwise it stays
   * as the server has it.
   */
  private async compressPageImages(): Promise<void> {
    const client = this.options.targetClient
    const { rows } = await this.target<{ setting: string }>(
      `SELECT pg_catalog.current_setting('wal_compression') AS setting`,
    )
    if (rows[0]?.setting !== 'off') return
    for (const value of ['lz4', 'on']) {
      try {
        await withSavepoint(client, 'tablehaul_wal_compression', () =>
          client.query(`SET LOCAL wal_compression = ${value}`),
        )
        return
      } catch (error) {
        // Refused (42501) or unknown (22023): the next choice, or none. Anything else (a lost
        // connection) ends the sync.
        if (sqlStateOf(error) === undefined) throw this.sideError('target', error)
      }
    }
  }

  /**
   * The target's columns that the source does not have (dropped or renamed there since the last copy, or
   * added by hand on the target). A replace leaves each at its default in every row, COPY not filling it;
   * the sync writes only the source's columns, so the rows it keeps would keep what the column held: for a
   * column the source dropped, its last values, stale, beside the default in the rows it inserts. Each
   * such column whose default is the same in every row (none, or an immutable expression) is set to it
   * wherever it differs, as a replace leaves it. One whose default is not a constant (now(), a sequence,
   * an identity) keeps its values: a replace would write it anew in every row, each run.
   */
  private async resetTargetOnlyColumns(): Promise<TargetOnlyReset> {
    const { plan } = this.options
    // The target table's columns as the plan read them, as writeRows takes its identity columns.
    const columns = (plan.targetTable?.columns ?? []).filter((column) => column.generated === '')
    const reset: Array<{ name: string; value: string | null }> = []
    const kept: string[] = []
    for (const column of columns) {
      if (this.columns.includes(column.name)) continue
      // A domain's own default applies where the column has none, and may be anything.
      const value =
        column.identity !== '' || (column.typeKind === 'd' && column.defaultExpr === null)
          ? undefined
          : column.defaultExpr === null
            ? null
            : await this.constantDefault(column.type, column.defaultExpr)
      if (value === undefined) kept.push(column.name)
      else reset.push({ name: column.name, value })
    }
    if (reset.length === 0) return { rows: 0, reset: [], kept }
    // Compared by text: json, point or xml have no `=`, and a composite with a NULL field is neither NULL
    // nor NOT NULL.
    const differs = reset
      .map(
        ({ name, value }) =>
          `t.${quoteIdent(name)}::text IS DISTINCT FROM ${value === null ? 'NULL' : quoteLiteral(value)}`,
      )
      .join(' OR ')
    await this.beforeWriting()
    const result = await this.target(
      `UPDATE ONLY ${plan.target.sql} AS t SET ${reset.map(({ name }) => `${quoteIdent(name)} = DEFAULT`).join(', ')} WHERE ${differs}`,
    )
    const rows = result.rowCount ?? 0
    if (rows > 0) await this.noteWriter()
    return { rows, reset: reset.map(({ name }) => name), kept }
  }

  /**
   * The text of what a default expression gives, when it gives the same in every row; undefined when it
   * may not (or cannot be told). A stored generated column takes only an immutable expression
   * (contain_mutable_functions, which also counts CURRENT_DATE and the like), so one built from it, in a
   * temporary table rolled back at once, says both whether the default is a constant and, converted to the
   * column's type as an INSERT converts it, what it is.
   */
  private async constantDefault(type: string, expression: string): Promise<string | null | undefined> {
    const client = this.options.targetClient
    const probe = 'pg_temp.tablehaul_default_probe'
    try {
      return await withSavepoint(client, 'tablehaul_default_probe', async () => {
        await client.query(
          `CREATE TEMPORARY TABLE ${probe} (v ${type} GENERATED ALWAYS AS (${expression}) STORED)`,
        )
        const { rows } = await client.query<{ v: string | null }>(
          `INSERT INTO ${probe} DEFAULT VALUES RETURNING v::text AS v`,
        )
        // Rolled back whatever it gave: the temporary table must not outlive the probe.
        throw new DefaultProbed(rows[0]!.v)
      })
    } catch (error) {
      if (error instanceof DefaultProbed) return error.value
      // Refused (not immutable: 42P17; or any other reason the server gives): not a constant. Anything
      // else (a lost connection) ends the sync.
      if (sqlStateOf(error) === undefined) throw this.sideError('target', error)
      return undefined
    }
  }

  private async decideHashing(): Promise<void> {
    this.hashing ??= await hashingOf(this.options.sourceClient, this.options.targetClient)
  }

  /**
   * Before the first write into the target table: the table noteWriter writes into, and compressed page
   * images. Outside the savepoints of the writes (liftingKeysIfNeeded), whose rollback would drop the
   * temporary table again.
   */
  private async beforeWriting(): Promise<void> {
    if (this.writing) return
    await this.target(`CREATE TEMP TABLE ${TEMP.writer} (x int4) ON COMMIT DROP`)
    await this.compressPageImages()
    this.writing = true
  }

  /**
   * Notes the id of the (sub)transaction that just wrote rows: a row written here has it as its xmin, and
   * the next sync must know that row as this copy's (see since.ts). PostgreSQL has no function for a
   * subtransaction's id; a row written into a temporary table carries it.
   */
  private async noteWriter(): Promise<void> {
    await this.beforeWriting()
    const { rows } = await this.target<{ xid: string }>(
      `INSERT INTO ${TEMP.writer} VALUES (0) RETURNING xmin::text AS xid`,
    )
    this.writers.add(rows[0]!.xid)
  }

  /**
   * The `changed:` hint: the source rows whose column is past the high-water mark of the last sync are
   * written first (their target rows with the same key deleted, then they are inserted), so that the
   * fingerprints afterwards only have to find deletes, and whatever a writer changed without setting the
   * column. Returns how many rows came and how many of them replaced a target row.
   */
  private async applyHint(hint: SyncHint): Promise<{ inserted: number; updated: number }> {
    const { plan } = this.options
    const columnList = this.columns.map(quoteIdent).join(', ')
    const type = this.sourceType(hint.column)
    const format = plan.format === 'binary' ? 'binary' : 'text'
    await this.target(
      `CREATE TEMP TABLE ${TEMP.hinted} ON COMMIT DROP AS SELECT ${columnList} FROM ONLY ${plan.target.sql} WITH NO DATA`,
    )
    const where = this.sourceWhere ? `(${this.sourceWhere}) AND ` : ''
    const selected = this.columns.map((name) => `t.${quoteIdent(name)}`).join(', ')
    // pg_catalog's `>` (and max() for the high-water mark), never a better-matching one of the column's type
    // that another role put in public; a type pg_catalog cannot order (an extension's) only makes the hint
    // pick other rows, which the fingerprints then correct.
    const rows = await this.move(
      `COPY (SELECT ${selected} FROM ONLY ${this.sourceTable} AS t WHERE ${where}t.${quoteIdent(hint.column)} OPERATOR(pg_catalog.>) ${quoteLiteral(hint.highWater)}::${type}) TO STDOUT WITH (FORMAT ${format})`,
      `COPY ${TEMP.hinted} (${columnList}) FROM STDIN WITH (FORMAT ${format})`,
    )
    if (rows === 0) return { inserted: 0, updated: 0 }
    return this.liftingKeysIfNeeded(() => this.write(TEMP.hinted, rows))
  }

  /**
   * The target table's rows, counted, when neither side has a row estimate: a source table never analysed,
   * and a target the copy could not ANALYZE (only its owner may). One bucket for the whole table would make
   * any difference a reload; a count costs one more pass over the target, beside the comparison's own.
   */
  private async rowsWithoutEstimate(): Promise<number> {
    if (rowEstimate(this.options.plan) > 0) return 0
    const { rows } = await this.target<{ n: string }>(
      `SELECT count(*)::text AS n FROM ONLY ${this.options.plan.target.sql}`,
    )
    return Number(rows[0]!.n)
  }

  /**
   * Enough buckets for ROWS_PER_BUCKET rows each, by the larger estimate of the two sides: the target was
   * analysed by the copy that filled it, the source may never have been.
   */
  private bucketCount(counted = 0): number {
    const { plan } = this.options
    const estimate = Math.max(rowEstimate(plan), counted, 1)
    return Math.min(Math.max(Math.ceil(estimate / ROWS_PER_BUCKET), 1), 1 << 26)
  }

  /**
   * Pass 1: per bucket, row count and hash sums, computed by both servers at once and streamed to the
   * client in bucket order, which compares them as they come (memory stays flat whatever the table's
   * size). Returns the differing buckets and the source's whole fingerprint (the sums of its buckets).
   */
  private async compareBuckets(
    buckets: number,
  ): Promise<{ dirty: Uint8Array; dirtyCount: number; source: Fingerprint }> {
    const halves = hashHalves('h')
    // OFFSET 0 keeps the planner from estimating one group per key (it would size its hash table for
    // every row of the table and sort to disk instead); with its default guess the table grows as needed.
    const { dirty, dirtyCount, source } = await this.differingBuckets(
      buckets,
      (relation, where, side) =>
        `COPY (SELECT b, count(*), sum(${halves.high}), sum(${halves.low})
         FROM (SELECT ${bucketOf('t', this.keyOf(side), buckets, this.hashing!)} AS b, ${rowHash('t', this.hashed[side], this.hashing!)} AS h
                 FROM ${relation} AS t${where ? ` WHERE (${where})` : ''} OFFSET 0) AS hashed
        GROUP BY b ORDER BY b) TO STDOUT`,
    )
    return { dirty, dirtyCount, source }
  }

  /**
   * Runs `perBucket` (a COPY of `bucket, rows, sum, sum` lines in bucket order, buckets 0 … buckets-1) on both servers at once and
   * compares the lines as they come; returns the buckets whose lines differ, and the sums of the source's.
   */
  private async differingBuckets(
    buckets: number,
    perBucket: (relation: string, where: string | undefined, side: 'source' | 'target') => string,
  ): Promise<{ dirty: Uint8Array; dirtyCount: number; source: Fingerprint }> {
    const { plan, sourceClient, targetClient } = this.options
    const sourceRows = new BucketReader(
      this.side('source', () =>
        sourceClient.query(copyTo(perBucket(`ONLY ${this.sourceTable}`, this.sourceWhere, 'source'))),
      ),
    )
    const targetRows = new BucketReader(
      this.side('target', () =>
        targetClient.query(copyTo(perBucket(`ONLY ${plan.target.sql}`, undefined, 'target'))),
      ),
    )
    const dirty = new Uint8Array(Math.ceil(buckets / 8))
    let dirtyCount = 0
    let rows = 0
    let first = 0n
    let second = 0n
    try {
      let s = await sourceRows.next()
      let t = await targetRows.next()
      while (s || t) {
        let bucket: number
        if (s && (!t || s.bucket < t.bucket)) bucket = s.bucket
        else bucket = t!.bucket
        const fromSource = s?.bucket === bucket ? s : undefined
        const fromTarget = t?.bucket === bucket ? t : undefined
        if (fromSource) {
          rows += fromSource.rows
          first += fromSource.high
          second += fromSource.low
        }
        if (
          !fromSource ||
          !fromTarget ||
          fromSource.rows !== fromTarget.rows ||
          fromSource.high !== fromTarget.high ||
          fromSource.low !== fromTarget.low
        ) {
          dirty[bucket >> 3]! |= 1 << (bucket & 7)
          dirtyCount++
        }
        if (fromSource) s = await sourceRows.next()
        if (fromTarget) t = await targetRows.next()
        this.options.onActivity(this.bytes + sourceRows.bytes + targetRows.bytes)
      }
    } catch (error) {
      // Not destroyed: a side whose COPY is left unread never answers again (see BucketReader.drain). A
      // watchdog or a stopped run closes both connections, which ends both streams at once.
      await Promise.all([sourceRows.drain(), targetRows.drain()])
      throw error
    }
    await Promise.all([sourceRows.finished, targetRows.finished])
    this.bytes += sourceRows.bytes + targetRows.bytes
    this.options.onActivity(this.bytes)
    return { dirty, dirtyCount, source: { rows, first: first.toString(), second: second.toString() } }
  }

  /**
   * Pass 2: key and row hash of every row in a differing bucket, from the source into a temporary table
   * on the target, and the same from the target table itself.
   */
  private async compareRows(bitmap: string, buckets: number): Promise<void> {
    const keyList = this.key.map(quoteIdent).join(', ')
    const inDirty = (side: 'source' | 'target') =>
      `pg_catalog.get_bit(${bitmap}::bytea, ${bucketOf('t', this.keyOf(side), buckets, this.hashing!)}) = 1`
    const keyColumns = this.key.map((name) => `t.${quoteIdent(name)}`).join(', ')
    await this.target(
      `CREATE TEMP TABLE ${TEMP.sourceRows} ON COMMIT DROP AS SELECT ${keyList} FROM ONLY ${this.options.plan.target.sql} WITH NO DATA`,
    )
    await this.target(`ALTER TABLE ${TEMP.sourceRows} ADD COLUMN ${HASH} int8`)
    const where = this.sourceWhere ? `(${this.sourceWhere}) AND ` : ''
    await this.move(
      `COPY (SELECT ${keyColumns}, ${rowHash('t', this.hashed.source, this.hashing!)} FROM ONLY ${this.sourceTable} AS t WHERE ${where}${inDirty('source')}) TO STDOUT`,
      `COPY ${TEMP.sourceRows} (${keyList}, ${HASH}) FROM STDIN`,
    )
    await this.target(
      `CREATE TEMP TABLE ${TEMP.targetRows} ON COMMIT DROP AS
       SELECT ${keyColumns}, ${rowHash('t', this.hashed.target, this.hashing!)} AS ${HASH} FROM ONLY ${this.options.plan.target.sql} AS t WHERE ${inDirty('target')}`,
    )
    // The planner joins the temporary tables better once it knows their sizes.
    await this.target(`ANALYZE ${TEMP.sourceRows}; ANALYZE ${TEMP.targetRows}`)
  }

  /**
   * The source rows the target lacks exactly (new, or changed: same key by `=`, other text), and how many
   * of them replace a target row with the same key.
   */
  private async findChanges(): Promise<number> {
    const keyList = this.key.map((name) => `s.${quoteIdent(name)}`).join(', ')
    // A join, not EXISTS in the select list: that is a subplan run once per row (quadratic), while the
    // planner hashes a join. No target row: t.hash is NULL, which IS DISTINCT FROM any source hash.
    await this.target(
      `CREATE TEMP TABLE ${TEMP.changes} ON COMMIT DROP AS
       SELECT ${keyList}
         FROM ${TEMP.sourceRows} AS s LEFT JOIN ${TEMP.targetRows} AS t ON ${this.sameKey('t', 's')}
        WHERE t.${HASH} IS DISTINCT FROM s.${HASH}`,
    )
    const { rows } = await this.target<{ changed: string }>(
      `SELECT count(*)::text AS changed FROM ${TEMP.changes}`,
    )
    return Number(rows[0]!.changed)
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
      const equal = this.key.map((name, index) =>
        keyEquals(
          `t.${quoteIdent(name)}`,
          `u.${names[index]}::${this.sourceType(name)}`,
          this.keyEquality.source.get(name),
        ),
      )
      // EXISTS, not IN: each key column compared by its own `=` (keyEqualityOf); the planner makes the same
      // semi join of both, through the key index.
      const matches = `EXISTS (SELECT FROM ROWS FROM (${arrays.join(', ')}) AS u(${names.join(', ')}) WHERE ${equal.join(' AND ')})`
      const where = this.sourceWhere ? `(${this.sourceWhere}) AND ` : ''
      const selected = this.columns.map((name) => `t.${quoteIdent(name)}`).join(', ')
      fetched += await this.move(
        `COPY (SELECT ${selected} FROM ONLY ${this.sourceTable} AS t WHERE ${where}${matches}) TO STDOUT WITH (FORMAT ${format})`,
        `COPY ${TEMP.rows} (${columnList}) FROM STDIN WITH (FORMAT ${format})`,
      )
    }
    await this.target('CLOSE tablehaul_sync_keys')
    if (fetched !== expected) {
      throw this.rowCountMismatch(
        `the source sent ${fetched} of the ${expected} changed rows it was asked for by key`,
        'the transaction was rolled back; run again, and report it if it repeats',
      )
    }
  }

  /**
   * One DELETE of the target rows of the differing buckets whose key the source no longer has, then the
   * changed source rows: an UPDATE of those whose key the target has, an INSERT of the others. Updating
   * in place (not deleting and inserting again) leaves foreign keys that reference the row alone and lets
   * PostgreSQL update it within its page (HOT) when no indexed column changed.
   */
  private async apply(changed: number): Promise<{ inserted: number; updated: number; deleted: number }> {
    const { plan } = this.options
    const vanished = `FROM ${TEMP.targetRows} AS d
       WHERE NOT EXISTS (SELECT 1 FROM ${TEMP.sourceRows} AS s WHERE ${this.sameKey('s', 'd')})`
    const { rows } = await this.target<{ n: string }>(`SELECT count(*)::text AS n ${vanished}`)
    const expected = Number(rows[0]!.n)
    return this.liftingKeysIfNeeded(async () => {
      const deleted = await this.target(
        `DELETE FROM ONLY ${plan.target.sql} AS t USING (SELECT d.* ${vanished}) AS d WHERE ${this.sameKey('t', 'd')}`,
      )
      if ((deleted.rowCount ?? 0) !== expected) {
        throw this.rowCountMismatch(
          `${expected} target rows have no source row but ${deleted.rowCount ?? 0} were deleted`,
          'a trigger or rule on the target table may have kept rows; the transaction was rolled back',
        )
      }
      const written = changed === 0 ? { inserted: 0, updated: 0 } : await this.write(TEMP.rows, changed)
      return { ...written, deleted: expected }
    })
  }

  /**
   * The rows of a temporary table written into the target table: UPDATE where the key is there (every
   * column set, the key's too: a key equal by `=` may still be written differently), INSERT where it is
   * not. A table with a GENERATED ALWAYS identity column outside its key cannot have that column set by
   * an UPDATE: its rows are deleted and inserted again instead.
   */
  private async write(temporary: string, expected: number): Promise<{ inserted: number; updated: number }> {
    return this.byKeyIndex(() => this.writeRows(temporary, expected))
  }

  /**
   * Runs `statements` with the planner joining a temporary table of changed rows to the target table by
   * probing its key index, row by row. Its estimates favour a hash join over a scan of the whole table
   * once a few thousand rows changed: measured on 1M rows with 15,000 changed, 2.7 s for the hash join
   * against a few hundredths of a second for the probes. Restored afterwards (RESET: the session's value).
   */
  private async byKeyIndex<T>(statements: () => Promise<T>): Promise<T> {
    await this.target(`SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off`)
    const result = await statements()
    await this.target(`RESET enable_hashjoin; RESET enable_mergejoin`)
    return result
  }

  private async writeRows(
    temporary: string,
    expected: number,
  ): Promise<{ inserted: number; updated: number }> {
    const { plan } = this.options
    const target = plan.target.sql
    const alwaysIdentity = (plan.targetTable?.columns ?? [])
      .filter(
        (column) =>
          column.identity === 'a' && !this.key.includes(column.name) && this.columns.includes(column.name),
      )
      .map((column) => column.name)
    let updated: number
    if (alwaysIdentity.length > 0) {
      // An UPDATE may set a GENERATED ALWAYS identity column only to DEFAULT, and no UPDATE on the source
      // changed it either: where the values agree, the other columns are updated in place (the rows that
      // reference the row keep it); where they differ, the target row is deleted and inserted again.
      const sameIdentity = alwaysIdentity
        .map((name) => `t.${quoteIdent(name)} IS NOT DISTINCT FROM r.${quoteIdent(name)}`)
        .join(' AND ')
      // A different value does not mean that the source deleted the row: a key moved between rows (two
      // keys swapped) keeps each row's identity, and the source's ON UPDATE CASCADE moved the referencing
      // rows along. Deleting the target row fires the ON DELETE actions (CASCADE, SET NULL) of the keys
      // that reference it, in this transaction, on rows of a table whose own sync may already have
      // committed the source's: the kept keys between this table and the run's others are lifted first
      // (back, validated, at the end of the run).
      // A key of a table outside the run cannot be lifted: its ON DELETE CASCADE would delete the local
      // rows of a row the source did not delete, so the table fails instead, its rows kept.
      const outside = plan.referencedFromOutside
      if (this.options.liftKeys || outside) {
        const { rows: moving } = await this.target<{ n: string }>(
          `SELECT count(*)::text AS n FROM ONLY ${target} AS t JOIN ${temporary} AS r ON ${this.sameKey('t', 'r')} WHERE NOT (${sameIdentity})`,
        )
        const rows = Number(moving[0]!.n)
        if (rows > 0 && outside) {
          throw new TablehaulError(
            'TABLE_COPY_FAILED',
            `${rows} row(s) have another value of GENERATED ALWAYS identity column ${alwaysIdentity.join(', ')} on the source under the same key (a key moved between rows?); an UPDATE cannot set it, and deleting the rows to insert them again would fire the ON DELETE action of ${outside.join(', ')}, which references them from outside the run`,
            {
              hint: `on the target, let an UPDATE set the column: ALTER TABLE ${target} ALTER COLUMN ${quoteIdent(alwaysIdentity[0]!)} SET GENERATED BY DEFAULT; or add the referencing table to the run (tables:, or --table) so both are synced together`,
              table: plan.target.display,
            },
          )
        }
        if (rows > 0 && this.options.liftKeys) await this.options.liftKeys(this.options.targetClient)
      }
      const others = this.columns.filter((name) => !alwaysIdentity.includes(name))
      const list = (prefix: string) => others.map((name) => `${prefix}${quoteIdent(name)}`).join(', ')
      const set =
        others.length === 1 ? `${list('')} = r.${quoteIdent(others[0]!)}` : `(${list('')}) = (${list('r.')})`
      const inPlace = await this.target(
        `UPDATE ONLY ${target} AS t SET ${set} FROM ${temporary} AS r WHERE ${this.sameKey('t', 'r')} AND ${sameIdentity}`,
      )
      if ((inPlace.rowCount ?? 0) > 0) await this.noteWriter()
      const removed = await this.target(
        `DELETE FROM ONLY ${target} AS t USING ${temporary} AS r WHERE ${this.sameKey('t', 'r')} AND NOT (${sameIdentity})`,
      )
      updated = (inPlace.rowCount ?? 0) + (removed.rowCount ?? 0)
      await this.insertFrom(
        temporary,
        expected - (inPlace.rowCount ?? 0),
        `NOT EXISTS (SELECT 1 FROM ONLY ${target} AS t WHERE ${this.sameKey('t', 'r')})`,
      )
      return { inserted: expected - updated, updated }
    }
    // A GENERATED ALWAYS identity column takes only DEFAULT in an UPDATE. In the key it needs no value: it
    // is an integer, and integers equal by `=` are written the same.
    const settable = this.columns.filter(
      (name) =>
        !this.key.includes(name) ||
        !plan.targetTable?.columns.some((column) => column.name === name && column.identity === 'a'),
    )
    const list = (prefix: string) => settable.map((name) => `${prefix}${quoteIdent(name)}`).join(', ')
    const set =
      settable.length === 1
        ? `${list('')} = r.${quoteIdent(settable[0]!)}`
        : `(${list('')}) = (${list('r.')})`
    const result =
      settable.length === 0
        ? { rowCount: 0 }
        : await this.target(
            `UPDATE ONLY ${target} AS t SET ${set} FROM ${temporary} AS r WHERE ${this.sameKey('t', 'r')}`,
          )
    updated = result.rowCount ?? 0
    if (updated > 0) await this.noteWriter()
    await this.insertFrom(
      temporary,
      expected - updated,
      `NOT EXISTS (SELECT 1 FROM ONLY ${target} AS t WHERE ${this.sameKey('t', 'r')})`,
    )
    return { inserted: expected - updated, updated }
  }

  /**
   * Runs `write` in a savepoint. A foreign key between two tables of the run is kept during a sync (its
   * rows are checked as they change, not all again at the end); when the changes break one on the way (a
   * row referencing a key the other table gets later, a referenced row deleted before the rows that
   * reference it), the keys of this table are lifted, in this transaction, and put back validated at
   * the end of the run, as for a reload; then the changes are written again.
   */
  private async liftingKeysIfNeeded<T>(write: () => Promise<T>): Promise<T> {
    const { liftKeys } = this.options
    await this.beforeWriting()
    if (!liftKeys) return write()
    await this.target('SAVEPOINT tablehaul_sync_write')
    try {
      const result = await write()
      await this.target('RELEASE SAVEPOINT tablehaul_sync_write')
      return result
    } catch (error) {
      const cause = error instanceof TablehaulError ? error.cause : error
      if (sqlStateOf(cause) !== '23503') throw error
      await this.target('ROLLBACK TO SAVEPOINT tablehaul_sync_write')
      if ((await liftKeys(this.options.targetClient)) === 0) throw error
      await this.target('RELEASE SAVEPOINT tablehaul_sync_write')
      return write()
    }
  }

  /** One INSERT of a temporary table's rows (those `filter` keeps) into the target table: `expected` rows. */
  private async insertFrom(temporary: string, expected: number, filter: string | undefined): Promise<void> {
    const { plan } = this.options
    const columnList = this.columns.map((name) => `r.${quoteIdent(name)}`).join(', ')
    // The source's values of identity columns are kept, as COPY keeps them.
    const overriding = plan.targetTable?.columns.some((column) => column.identity === 'a')
      ? ' OVERRIDING SYSTEM VALUE'
      : ''
    const inserted = await this.target(
      `INSERT INTO ${plan.target.sql} (${this.columns.map(quoteIdent).join(', ')})${overriding} SELECT ${columnList} FROM ${temporary} AS r${filter ? ` WHERE ${filter}` : ''}`,
    )
    if (expected > 0) await this.noteWriter()
    if (inserted.rowCount !== expected) {
      throw this.rowCountMismatch(
        `${expected} changed rows came from the source but ${inserted.rowCount ?? 0} were inserted`,
        'a trigger or rule on the target table may have dropped rows; the transaction was rolled back',
      )
    }
  }

  /** A statement moved or wrote another number of rows than it had to: the table's transaction rolls back. */
  private rowCountMismatch(message: string, hint: string): TablehaulError {
    return new TablehaulError('ROW_COUNT_MISMATCH', message, {
      hint,
      table: this.options.plan.target.display,
    })
  }

  /** The key columns of `a` and `b` equal, on the target (its tables and temporary tables of its types). */
  private sameKey(a: string, b: string): string {
    return this.key
      .map((name) =>
        keyEquals(`${a}.${quoteIdent(name)}`, `${b}.${quoteIdent(name)}`, this.keyEquality.target.get(name)),
      )
      .join(' AND ')
  }

  /** A source column's type, as the source names it: what a text value of the column is cast to. */
  private sourceType(column: string): string {
    const { source } = this.options.plan
    return (source.kind === 'table' && source.table.columns.find((c) => c.name === column)?.type) || 'text'
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

  private async source<R extends pg.QueryResultRow>(sql: string): Promise<pg.QueryResult<R>> {
    try {
      const result = await this.options.sourceClient.query<R>(sql)
      this.options.onActivity(this.bytes)
      return result
    } catch (error) {
      throw this.sideError('source', error)
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

  /** A pass 1 stream of one side, its errors labelled with the side. */
  private side(
    side: 'source' | 'target',
    start: () => Readable,
  ): { stream: Readable; failure: (error: unknown) => Error } {
    return { stream: start(), failure: (error) => this.sideError(side, error) }
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
        hint: adviceFor(error, 'copy', { side }),
      },
    )
  }
}

function copyTo(sql: string): Readable & pg.Submittable {
  return copyStreams.to(sql) as unknown as Readable & pg.Submittable
}

/** Keys grouped into buckets (see TableSyncer.keyBuckets); `bucket` is an int4 expression over alias t. */
interface KeyBuckets {
  readonly buckets: number
  /** A key's bucket as `side` computes it. */
  readonly bucket: (side: 'source' | 'target') => string
  readonly rowsIn: (relation: string, bitmap: string, side: 'source' | 'target') => string
  /**
   * For buckets that are ranges of an integer key: bucket n holds the keys low + n * width to
   * low + (n + 1) * width - 1, and `offset` (int8, over alias t) is a key's place in its bucket.
   */
  readonly range?: { readonly low: bigint; readonly width: bigint; readonly offset: string } | undefined
}

/** Keys counted per bucket and, for range buckets, the sums of their offsets (see readCounts). */
interface KeySums {
  readonly counts?: Int32Array | undefined
  readonly sums?: BigInt64Array | undefined
}

/** The target's keys the source lacks: those named outright, and the buckets (a bitmap literal) to read for the rest. */
interface VanishedKeys {
  readonly named: readonly bigint[]
  readonly read: string | undefined
}

/**
 * Where the target has keys the source lacks, from the keys counted per bucket on both sides (`added`: the
 * keys the writes added to the target after its count). A range bucket with one key more on the target
 * names it: the sums of the keys' offsets differ by exactly its offset, since every other key is on both
 * sides; that bucket needs no reading. Other buckets with more keys are read. Returns why the rows are to
 * be compared instead when a bucket has fewer keys on the target than on the source.
 */
function vanishedKeys(
  keyed: KeyBuckets,
  source: KeySums,
  target: KeySums,
  added: KeySums | undefined,
): VanishedKeys | string {
  const dirty = new Uint8Array(Math.ceil(keyed.buckets / 8))
  let read = false
  const named: bigint[] = []
  const { range } = keyed
  for (let bucket = 0; bucket < keyed.buckets; bucket++) {
    const more = target.counts![bucket]! + (added?.counts?.[bucket] ?? 0) - source.counts![bucket]!
    if (more < 0)
      return `the source has key(s) the target lacks in a range where no row was written since the last copy`
    if (more === 0) continue
    if (more === 1 && range && source.sums && target.sums && (!added || added.sums)) {
      const offset = BigInt.asIntN(
        64,
        target.sums[bucket]! + (added?.sums?.[bucket] ?? 0n) - source.sums[bucket]!,
      )
      if (offset >= 0n && offset < range.width) {
        named.push(range.low + BigInt(bucket) * range.width + offset)
        continue
      }
    }
    dirty[bucket >> 3]! |= 1 << (bucket & 7)
    read = true
  }
  return { named, read: read ? bucketBitmap(dirty) : undefined }
}

/**
 * Buckets per row deleted, when keys are counted per bucket to find the deletes. A range bucket with one
 * key deleted names it by the sums of its keys (vanishedKeys); a bucket with more is read again, key by key,
 * on both sides, and more buckets make counting dearer. With deletes spread at random, about one in 16
 * lands in a bucket with another. Measured on accounts (4M rows, 4,000 deleted, PostgreSQL 15): counting
 * in 64k buckets took 1.09 s, in 256k 1.33 s; before the sums, reading the keys of every differing bucket
 * took 1.9 s in 64k buckets and 0.4 s in 256k.
 */
const BUCKETS_PER_DELETE = 16

/** The most buckets keys are counted in: one group each in WORK_MEM (no spill to disk), on both sides. */
const MAX_COUNTED_BUCKETS = 1 << 18

/** Temporary tables of a sync; ON COMMIT DROP, and a rolled-back transaction drops them too. */
const TEMP = {
  buckets: 'pg_temp.tablehaul_sync_buckets',
  sourceRows: 'pg_temp.tablehaul_sync_source',
  targetRows: 'pg_temp.tablehaul_sync_target',
  changes: 'pg_temp.tablehaul_sync_changes',
  rows: 'pg_temp.tablehaul_sync_rows',
  hinted: 'pg_temp.tablehaul_sync_hinted',
  writer: 'pg_temp.tablehaul_sync_writer',
  vanished: 'pg_temp.tablehaul_sync_vanished',
} as const

/** The row hash column of the temporary tables: a name no key column of a user table is likely to have. */
const HASH = quoteIdent('tablehaul row hash')

/**
 * The set of differing buckets as a bytea literal, one bit per bucket, in get_bit's order: bit n is bit
 * n % 8 (from the least significant) of byte n / 8.
 */
function bucketBitmap(dirty: Uint8Array): string {
  return `'\\x${Buffer.from(dirty.buffer, dirty.byteOffset, dirty.byteLength).toString('hex')}'`
}

/** Integer keys as a FROM item: rows of one int8 column, k.v. */
function keyArray(keys: readonly string[]): string {
  return `pg_catalog.unnest(${quoteLiteral(arrayLiteral(keys))}::int8[]) AS k(v)`
}

/** A text[] literal of `values` (never NULL: key columns are NOT NULL). */
function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`
}
