import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import { type Database, clientLimitMs, commitLimitMs, hasRows, isConnectionLost } from '../../db/database.js'
import { adviceFor } from '../../db/sql-state-advice.js'
import { firesInOurSessions } from '../../catalog/catalog.js'
import type { Ddl } from '../../catalog/ddl.js'
import { displayIdentifier, quoteIdent, quoteLiteral, type TableRef } from '../../db/table-ref.js'
import { TablehaulError, messageOf, sqlStateOf } from '../../errors.js'
import { copyIn } from './copy-in.js'
import { copyOut } from './copy-out.js'
import { Watchdog } from './watchdog.js'
import { type TablePlan, rowEstimate, syncMayReload } from '../plan/planner.js'
import type { Snapshot } from '../snapshot.js'
import type { SyncSummary } from '../../report/run-report.js'
import {
  type Fingerprint,
  type Hashing,
  hashedColumns,
  hashingOf,
  sameFingerprint,
  wholeFingerprintSql,
} from '../sync/fingerprint.js'
import {
  type SourceSince,
  readSourceSince,
  readTargetSince,
  sinceConditions,
  targetSinceProblem,
} from '../sync/since.js'
import { type SyncMark, predictedChangeShare, readHighWater, readSourceMark } from '../sync/sync-mark.js'
import {
  PREDICTED_RELOAD_SHARE,
  type SyncOutcome,
  TableSyncer,
  type TargetOnlyReset,
} from '../sync/table-syncer.js'

/** How often a copy reports its progress. */
const PROGRESS_INTERVAL_MS = 200

/** Rows and bytes a COPY moved; the source's own count once its COPY has ended. */
interface Streamed {
  readonly rows: number
  readonly bytes: number
  sourceRows(): number
}

/** What the source's part of a copy did: rows streamed in full or synced, and what to switch back on. */
interface SourcePart {
  readonly streamed?: Streamed
  readonly synced?: Extract<SyncOutcome, { kind: 'synced' }>
  readonly switchBackOn: string[]
  /** verify: checksum compared the fingerprints (set once the rows are in). */
  checked?: boolean
  /** mode: sync: what the next sync starts from. */
  mark?: SyncMark
  /** mode replace and sync: where the source stood (the next sync reads only what was written since). */
  sourceSince?: SourceSince
}

/** Throws if the watchdog fired or the run stopped while we were waiting. */
function stillGoing(watchdog: Watchdog, stop: AbortSignal): void {
  if (watchdog.error) throw watchdog.error
  stop.throwIfAborted()
}

export interface CopyResult {
  readonly rows: number
  readonly bytes: number
  /** mode: recreate: what `DROP TABLE … CASCADE` took with the old table, and settings that did not apply. */
  readonly dropped?: string[]
  /** mode: sync: what it wrote and left alone; absent when the table was loaded in full. */
  readonly sync?: SyncSummary
  /** mode: sync: which rows it compared (see TableResult.syncCompared). */
  readonly syncCompared?: 'written' | 'all'
  /** verify: checksum compared the table's fingerprint on both sides before COMMIT, and it was the same. */
  readonly verified?: boolean
  /** mode: sync: what the next sync of this table starts from (recorded with the commit). */
  readonly mark?: SyncMark
}

export interface TableCopierOptions {
  readonly plan: TablePlan
  readonly source: Database
  readonly target: Database
  readonly snapshot: Snapshot
  readonly ddl: Ddl
  readonly timeouts: {
    readonly connectMs: number
    /** How long a lock on the source or target table may be waited for. */
    readonly lockMs: number
    /** The copy fails when no bytes moved (or no reply came) for this long; 0 turns it off. */
    readonly stallMs: number
    /** Longest statement after the data (index builds, constraint checks) in the same transaction. */
    readonly statementMs: number
  }
  /** Bytes and rows moved so far (rows: CopyData messages, one more than rows for binary COPY). */
  readonly onProgress?: ((bytes: number, rows: number) => void) | undefined
  /** Each phase of an attempt as it begins (a lock wait, a sync's comparison): what it waits for. */
  readonly onPhase?: ((phase: string) => void) | undefined
  /** `SET LOCAL` settings (`name = value`) that make bulk loading cheaper (see bulkLoadSettings). */
  readonly bulkLoadSettings?: readonly string[] | undefined
  /**
   * checksum: before COMMIT, the whole table's fingerprint on the target must equal the source's (mode
   * replace and sync), or the table fails with its old rows. @default 'none'
   */
  readonly verify?: 'none' | 'checksum' | undefined
  /** mode sync: above this share of differing key buckets the table is reloaded instead. */
  readonly syncSwitchShare?: number | undefined
  /**
   * mode: sync: lifts, in the table's transaction, the foreign keys kept between it and other synced tables
   * (before a reload, or when a change breaks one); returns how many.
   */
  readonly liftKeys?: ((client: pg.ClientBase) => Promise<number>) | undefined
  /** mode: sync: what the last sync of this table left (tablehaul.sync_marks), if any. */
  readonly syncMark?: SyncMark | undefined
  /** Runs inside the target transaction just before COMMIT (the run's bookkeeping rides along atomically). */
  readonly beforeCommit?: ((client: pg.ClientBase, result: CopyResult) => Promise<void>) | undefined
}

/**
 * Copies one table in one target transaction: the old rows are removed (replace) and the new ones loaded
 * with COPY, the row count is checked against what the source sent, and only then does it COMMIT. Any
 * failure rolls the whole transaction back, so the target table keeps exactly its previous contents.
 */
export class TableCopier {
  constructor(private readonly options: TableCopierOptions) {}

  async copy(signal: AbortSignal): Promise<CopyResult> {
    const { target, plan, timeouts } = this.options
    signal.throwIfAborted()
    // When the watchdog fires or the run stops, both connections are closed at once (withClient's
    // signal): the servers roll back, and every pending call on them fails instead of waiting.
    const fired = new AbortController()
    const watchdog = new Watchdog(plan.target.display, () => fired.abort(), this.options.onPhase)
    const stop = AbortSignal.any([signal, fired.signal])
    let committing: CopyResult | undefined
    try {
      watchdog.phase('connecting', clientLimitMs(timeouts.connectMs))
      return await target.withTransaction(
        async (targetClient) => {
          // Why a table asked to sync is replaced (no key, rules) reaches the table's notes: the log and
          // the e-mail say it, not only `tablehaul plan`.
          const notes: string[] = plan.modeNote ? [plan.modeNote] : []
          const read = await this.readSource(targetClient, notes, watchdog, stop)
          const { streamed, synced } = read
          if (streamed && streamed.sourceRows() !== streamed.rows) {
            throw new TablehaulError(
              'ROW_COUNT_MISMATCH',
              `the source sent ${streamed.sourceRows()} rows but the target received ${streamed.rows}`,
              {
                hint: 'the transaction was rolled back; run again, and report it if it repeats',
                table: plan.target.display,
              },
            )
          }
          for (const statement of read.switchBackOn) await targetClient.query(statement)
          const mark = await this.finishMark(targetClient, read, synced ? synced.rows : streamed!.rows)
          const result: CopyResult = {
            rows: synced ? synced.rows : streamed!.rows,
            bytes: synced ? synced.bytes : streamed!.bytes,
            ...(notes.length ? { dropped: notes } : {}),
            ...(synced ? { sync: synced.counts, syncCompared: synced.compared } : {}),
            ...(read.checked ? { verified: true } : {}),
            ...(mark ? { mark } : {}),
          }
          if (this.options.beforeCommit) {
            watchdog.phase(
              'building indexes and constraints on the target',
              clientLimitMs(timeouts.statementMs),
            )
            await targetClient.query(`SET LOCAL statement_timeout = ${Math.round(timeouts.statementMs)}`)
            await this.options.beforeCommit(targetClient, result)
          }
          stillGoing(watchdog, stop)
          // A COMMIT still waiting for a synchronous standby after timeouts.stall is cancelled by the target's
          // Database (watchStandbyWaits), and the server then answers it (committed): the watchdog waits for that.
          watchdog.phase('committing on the target', commitLimitMs(timeouts.stallMs))
          committing = result
          return result
        },
        { statementTimeoutMs: 0, settings: this.options.bulkLoadSettings, signal: stop },
      )
    } catch (error) {
      const reason = watchdog.error ?? (signal.aborted ? (signal.reason as unknown) : this.describe(error))
      // A COMMIT that the server refused (a deferred constraint) rolled back; one whose reply was lost
      // (connection, watchdog, signal) may have committed.
      if (committing && (watchdog.error || signal.aborted || isConnectionLost(error))) {
        throw new CommitOutcomeUnknown(committing, reason)
      }
      throw reason
    } finally {
      watchdog.stop()
    }
  }

  /**
   * The source's part, inside the target's transaction: a read in the run's snapshot, the target table
   * made ready, the rows streamed (or synced), the fingerprints compared. The source's read-only
   * transaction ends as soon as that is done, not after the target's index builds, so that losing the
   * source later cannot fail (or retry) a table whose data is in; its COMMIT's reply also guarantees the
   * source's own row count (CommandComplete) has arrived.
   */
  private async readSource(
    targetClient: pg.ClientBase,
    notes: string[],
    watchdog: Watchdog,
    stop: AbortSignal,
  ): Promise<SourcePart> {
    const { source, snapshot, timeouts } = this.options
    let part: SourcePart | undefined
    try {
      await source.withTransaction(
        async (sourceClient) => {
          // A table that syncs remembers, with its commit, where the next sync starts from (a first full
          // copy included).
          watchdog.phase('reading the source statistics', clientLimitMs(timeouts.statementMs))
          // Every full load records the statistics and where both sides stood, as a sync does: a sync after
          // it predicts a reload from them and reads only the rows written since (a recreate's table is the
          // source's as much as a replace's is; an append's is not).
          const records = this.options.plan.mode !== 'append'
          const mark = records ? await readSourceMark(sourceClient, this.options.plan) : undefined
          const sourceSince = records
            ? await readSourceSince(
                sourceClient,
                this.options.plan,
                this.options.snapshot,
                this.options.syncMark?.since?.source,
              )
            : undefined
          watchdog.phase('waiting for a lock on the target table', clientLimitMs(timeouts.lockMs))
          part = (await this.syncsRows(targetClient))
            ? await this.syncRows(sourceClient, targetClient, notes, watchdog, stop, mark!, sourceSince)
            : await this.loadRows(sourceClient, targetClient, notes, watchdog, stop)
          if (mark) {
            let highWater = part.synced?.highWater
            if (highWater === undefined && mark.changedColumn) {
              watchdog.phase(
                'reading the high-water mark of the changed: column',
                clientLimitMs(timeouts.statementMs),
              )
              highWater = await readHighWater(sourceClient, this.options.plan)
            }
            part.mark = { ...mark, highWater }
          }
          if (sourceSince) part.sourceSince = sourceSince
          part.checked = await this.checkFingerprint(sourceClient, targetClient, part.synced, watchdog)
          watchdog.phase('ending the source transaction', clientLimitMs(timeouts.connectMs))
        },
        {
          begin: async (sourceClient) => {
            stillGoing(watchdog, stop)
            watchdog.phase(
              'starting the source transaction (waiting for a lock on the source table?)',
              clientLimitMs(timeouts.lockMs),
            )
            await snapshot.begin(sourceClient)
            await this.checkSourceStorage(sourceClient)
          },
          signal: stop,
        },
      )
    } catch (error) {
      // Once the rows are in, only the end of a read was lost; the row count says whether all had come.
      const streamed = part?.checked === undefined ? undefined : part.streamed
      if (!streamed || streamed.sourceRows() !== streamed.rows) throw error
    }
    return part!
  }

  /**
   * TRUNCATE and the ALTER TABLE forms that rewrite a table (a column's type changed, a column added with a
   * volatile default) are not MVCC-safe: a transaction whose snapshot predates them sees the table empty,
   * the new storage's rows carrying a later transaction id. Read in the run's snapshot, a source table
   * emptied or rewritten after it would be copied as empty, and the target table emptied with it. Locked for
   * reading first (no such statement can come in between any more), the table's storage as the snapshot saw
   * it (pg_class under the snapshot) must be the one it has (pg_relation_filenode, the current catalog),
   * or else the snapshot must still see rows in it: VACUUM FULL, CLUSTER and SET TABLESPACE copy every row
   * a running snapshot may need with its transaction ids, while TRUNCATE and a rewrite leave it none.
   */
  private async checkSourceStorage(client: pg.ClientBase): Promise<void> {
    const { plan } = this.options
    // A partitioned table has no storage of its own; its leaves are copied, each checked.
    if (plan.source.kind !== 'table' || plan.source.table.kind !== 'r') return
    const table = plan.source.table.ref
    try {
      await client.query(`LOCK TABLE ONLY ${table.sql} IN ACCESS SHARE MODE`)
    } catch (error) {
      // 42P01 undefined_table: a name is looked up in the current catalog, not in the snapshot, so a table
      // dropped (or renamed) after the plan read the catalog is missing here, before the target is touched.
      if (sqlStateOf(error) === '42P01') throw droppedFromSource(plan, error)
      // 55P03 lock_not_available: lock_timeout ended the wait for a session holding (or waiting for) an
      // ACCESS EXCLUSIVE lock on the source table, such as an ALTER TABLE, TRUNCATE or VACUUM FULL.
      if (sqlStateOf(error) !== '55P03') throw error
      throw new TablehaulError(
        'TABLE_LOCKED',
        `source table ${table.display} is locked: another session holds (or waits for) an ACCESS EXCLUSIVE lock on it, and the wait ended at timeouts.lock`,
        {
          cause: error,
          hint: `run again once that transaction ends (an ALTER TABLE, TRUNCATE or VACUUM FULL?); to see it, on the source: SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE pid IN (SELECT pid FROM pg_locks WHERE relation = ${quoteLiteral(table.sql)}::regclass AND mode = 'AccessExclusiveLock')`,
          table: plan.target.display,
        },
      )
    }
    const { rows } = await client.query<{ seen: string; now: string }>(
      `SELECT c.relfilenode::text AS seen, pg_catalog.pg_relation_filenode(c.oid)::text AS now
         FROM pg_catalog.pg_class c WHERE c.oid = ${quoteLiteral(table.sql)}::pg_catalog.regclass::pg_catalog.oid`,
    )
    const storage = rows[0]
    if (storage && storage.seen === storage.now) return
    if (storage) {
      const { rows: seen } = await client.query<{ rows: boolean }>(
        `SELECT EXISTS (SELECT FROM ONLY ${table.sql}) AS rows`,
      )
      if (seen[0]!.rows) return
    }
    throw new TablehaulError(
      'SNAPSHOT_FAILED',
      storage
        ? `source table ${table.display} was emptied or rewritten (TRUNCATE, or an ALTER TABLE that rewrites it) after the run's snapshot was taken, which reads it as empty`
        : `source table ${table.display} was created again (dropped, or renamed and replaced) after the run's snapshot was taken, which reads it as empty`,
      {
        hint: 'its target table was left as it was; run again (--resume runs only the tables that did not commit)',
        table: plan.target.display,
      },
    )
  }

  /** The table emptied (or re-created) and loaded in full by COPY. */
  private async loadRows(
    sourceClient: pg.ClientBase,
    targetClient: pg.ClientBase,
    notes: string[],
    watchdog: Watchdog,
    stop: AbortSignal,
  ): Promise<SourcePart> {
    const freeze = await this.prepareTarget(targetClient, notes)
    const switchBackOn = [
      ...(await this.suspendTriggersAndForcedRls(targetClient)),
      ...(await this.liftNotValidChecks(targetClient)),
    ]
    stillGoing(watchdog, stop)
    watchdog.phase('copying (no bytes moved)', this.options.timeouts.stallMs)
    const streamed = await this.stream(sourceClient, targetClient, freeze, watchdog)
    return { streamed, switchBackOn }
  }

  /** mode sync: only the differing rows written; or, when too many differ, the table reloaded. */
  private async syncRows(
    sourceClient: pg.ClientBase,
    targetClient: pg.ClientBase,
    notes: string[],
    watchdog: Watchdog,
    stop: AbortSignal,
    mark: SyncMark,
    sourceSince: SourceSince | undefined,
  ): Promise<SourcePart> {
    const { plan, timeouts, syncMark: previous } = this.options
    // Other writers wait until COMMIT (readers do not: SHARE ROW EXCLUSIVE conflicts with ROW EXCLUSIVE,
    // not with ACCESS SHARE), so that what the sync compares is what it commits, and what it records as
    // the table's state (since.ts) is exact.
    await targetClient.query(`LOCK TABLE ONLY ${plan.target.sql} IN SHARE ROW EXCLUSIVE MODE`)
    const switchBackOn = await this.suspendTriggersAndForcedRls(targetClient)
    // Without TRUNCATE rights, or with a key of a table outside the run referencing this one, a reload is
    // not possible: the differences are applied however many.
    const canReload = syncMayReload(plan)
    // The high-water mark is the text of the column's greatest value at the last sync: once the source
    // table's columns changed (the column's type among them), it may no longer read as one of the column's
    // values, or mean the same. The hint only ever saves work, so it is left out then.
    const sameColumns =
      !previous?.since || !sourceSince || previous.since.source.signature === sourceSince.signature
    const syncer = new TableSyncer({
      plan,
      sourceClient,
      targetClient,
      hint:
        plan.changedColumn &&
        previous?.changedColumn === plan.changedColumn &&
        previous.highWater !== undefined &&
        sameColumns
          ? { column: plan.changedColumn, highWater: previous.highWater }
          : undefined,
      liftKeys: this.options.liftKeys,
      stillGoing: () => stillGoing(watchdog, stop),
      switchShare: canReload ? this.options.syncSwitchShare : Infinity,
      onActivity: (bytes) => {
        watchdog.touch()
        this.options.onProgress?.(bytes, 0)
      },
      // The changed rows stream as a COPY does, so silence there is a stall; the DELETE and INSERT that
      // apply them are statements (their lock waits end at lock_timeout, on the server).
      onPhase: (phase) =>
        phase === 'fetching'
          ? watchdog.phase('fetching the changed rows (no bytes moved)', timeouts.stallMs)
          : watchdog.phase('applying the differences on the target', clientLimitMs(timeouts.statementMs)),
    })
    const findOutcome = async (): Promise<SyncOutcome> => {
      let outcome: SyncOutcome | undefined
      // Why the rows written since the last copy cannot be read alone: said as `compared every row: …` when
      // every row is compared, and within the reason of a reload the statistics predict (nothing compared).
      let notWritten: string | undefined
      const since = sinceConditions(previous?.since, sourceSince)
      if (typeof since !== 'string') {
        notWritten = await targetSinceProblem(targetClient, plan, previous!.since!.target)
        if (!notWritten) {
          watchdog.phase('finding the rows written since the last copy', clientLimitMs(timeouts.statementMs))
          const since1 = await syncer.syncSince(since, previous!.since!.target.rows)
          if (typeof since1 === 'string') notWritten = since1
          else outcome = since1
        }
      } else if (previous?.since) notWritten = since
      if (!outcome) {
        // The target's estimate is fresh from the copy that filled it; the source may never have been analysed.
        const rows = rowEstimate(plan)
        const predicted = predictedChangeShare(previous, mark, rows)
        if (canReload && predicted !== undefined && predicted >= PREDICTED_RELOAD_SHARE) {
          outcome = {
            kind: 'replace',
            reason: `the source's statistics count changes to ${Math.round(predicted * 100)} % of its rows since the last sync${notWritten ? ` (reading only the rows written since was not possible: ${notWritten})` : ''}, so a reload costs less than the differences`,
            bytes: 0,
          }
        } else {
          if (notWritten) notes.push(`compared every row: ${notWritten}`)
          // Hashing a large table happens in the servers before any byte moves: bounded like a statement.
          watchdog.phase('finding the differences (hashing rows)', clientLimitMs(timeouts.statementMs))
          outcome = await syncer.sync()
        }
      }
      return outcome
    }
    let outcome: SyncOutcome
    // A sync writes row by row, and a unique index (or an exclusion constraint) checks each row as it is
    // written: a value that moved between rows (swapped, or taken over by a new row from a deleted one) can
    // collide on the way although the source is valid at every commit. Rolled back to the savepoint, the
    // table is reloaded instead, as a whole, in the table's transaction itself as replace's is (COPY
    // FREEZE, and the next sync knows its rows by that transaction's id).
    try {
      outcome = await this.options.target.withSavepoint(targetClient, 'tablehaul_sync', findOutcome)
    } catch (error) {
      const cause = error instanceof TablehaulError ? error.cause : error
      const outside = plan.referencedFromOutside?.join(', ')
      // 23503 foreign_key_violation: keys between tables of the run are lifted when a change breaks them
      // (liftingKeysIfNeeded), so this one is a key of a table the run does not copy.
      if (outside && sqlStateOf(cause) === '23503') {
        throw new TablehaulError(
          'TABLE_COPY_FAILED',
          `the source deleted (or changed the key of) a row that ${outside} still references on the target: ${messageOf(cause)}`,
          {
            cause,
            hint: 'add the referencing table to the run (tables:, or --table) so both are synced together, or delete or change its rows that reference the row on the target',
            table: plan.target.display,
          },
        )
      }
      // 23505 unique_violation, 23P01 exclusion_violation: both checked as each row is written.
      if (!['23505', '23P01'].includes(sqlStateOf(cause) ?? '')) throw error
      if (!canReload) {
        throw new TablehaulError(
          'TABLE_COPY_FAILED',
          `writing the differences row by row met a unique index or exclusion constraint: ${messageOf(cause)}`,
          {
            cause,
            hint: outside
              ? `a value moved between rows, which only a reload applies, and TRUNCATE refuses a table that ${outside} references: add the referencing table to the run (tables:, or --table) so both are reloaded together, once with --mode replace`
              : `a value moved between rows, which only a reload applies: GRANT TRUNCATE ON ${plan.target.sql} TO the target user, or run this table once with --mode replace as a user that may TRUNCATE it (its owner)`,
            table: plan.target.display,
          },
        )
      }
      // withSavepoint rolled back to the savepoint but keeps it: released, the reload runs in the table's
      // transaction itself, not in a subtransaction.
      await targetClient.query('RELEASE SAVEPOINT tablehaul_sync')
      outcome = {
        kind: 'replace',
        reason: `writing the differences row by row met a unique index or exclusion constraint (${messageOf(cause)}): a value moved between rows, which only a reload applies`,
        bytes: 0,
      }
    }
    if (outcome.kind === 'synced') {
      if (outcome.hintMissed) notes.push(outcome.hintMissed)
      notes.push(...targetOnlyNotes(outcome.targetOnly, outcome.compared, plan.target))
      return { synced: outcome, switchBackOn }
    }
    notes.push(`sync → replace: ${outcome.reason}`)
    // TRUNCATE refuses a table that a kept key references, and a reload checks no key row by row.
    await this.options.liftKeys?.(targetClient)
    await targetClient.query(`TRUNCATE ONLY ${plan.target.sql}`)
    watchdog.phase('copying (no bytes moved)', timeouts.stallMs)
    const streamed = await this.stream(sourceClient, targetClient, true, watchdog)
    return { streamed, switchBackOn }
  }

  /**
   * What the next sync of this table starts from, read just before COMMIT: the statistics and high-water
   * mark (mode sync), and where both sides stood (since.ts). A table that was synced keeps the rows earlier
   * copies wrote, and with them their transaction ids; a reloaded one holds only this transaction's rows.
   */
  private async finishMark(
    targetClient: pg.ClientBase,
    read: SourcePart,
    rows: number,
  ): Promise<SyncMark | undefined> {
    if (!read.sourceSince) return read.mark
    const target = await readTargetSince(targetClient, this.options.plan, {
      xids: read.synced?.writers ?? [],
      rows,
      kept: read.synced ? this.options.syncMark?.since?.target.own : undefined,
    })
    return { ...read.mark, since: { source: read.sourceSince, target } }
  }

  /**
   * mode sync writes only the differing rows into a table that has rows and a key; an empty table is
   * loaded in full, where COPY FREEZE makes that cheapest.
   */
  private async syncsRows(client: pg.ClientBase): Promise<boolean> {
    const { plan } = this.options
    if (plan.mode !== 'sync' || !plan.syncKey || plan.targetState !== 'exists') return false
    return hasRows(client, plan.target.sql)
  }

  /**
   * verify: checksum. The whole table's fingerprint on the target, inside its transaction, against the
   * source's in the run's snapshot (a sync has it from its own first pass). Returns whether it compared;
   * throws CHECKSUM_MISMATCH, which rolls the table back.
   */
  private async checkFingerprint(
    sourceClient: pg.ClientBase,
    targetClient: pg.ClientBase,
    known: { readonly source?: Fingerprint | undefined; readonly hashing?: Hashing | undefined } | undefined,
    watchdog: Watchdog,
  ): Promise<boolean> {
    const { plan, timeouts } = this.options
    if (this.options.verify !== 'checksum' || (plan.mode !== 'replace' && plan.mode !== 'sync')) return false
    watchdog.phase('comparing fingerprints (verify: checksum)', clientLimitMs(timeouts.statementMs))
    const read = async (client: pg.ClientBase, sql: string): Promise<Fingerprint> => {
      const { rows } = await client.query<{ rows: string; first: string; second: string }>(sql)
      return { rows: Number(rows[0]!.rows), first: rows[0]!.first, second: rows[0]!.second }
    }
    const sourceRelation =
      plan.source.kind === 'query' ? `(${plan.source.query})` : `ONLY ${plan.source.table.ref.sql}`
    const where = plan.source.kind === 'table' ? plan.source.where : undefined
    const hashing = known?.hashing ?? (await hashingOf(sourceClient, targetClient))
    const [source, target] = await Promise.all([
      known?.source ??
        read(
          sourceClient,
          wholeFingerprintSql(sourceRelation, hashedColumns(plan, { asTarget: true }), hashing, where),
        ),
      read(targetClient, wholeFingerprintSql(`ONLY ${plan.target.sql}`, hashedColumns(plan), hashing)),
    ])
    if (!sameFingerprint(source, target)) {
      throw new TablehaulError(
        'CHECKSUM_MISMATCH',
        `the target's fingerprint (${target.rows} rows) differs from the source's (${source.rows} rows) after the ${plan.mode}`,
        {
          hint: 'the transaction was rolled back and the table keeps its previous rows; a trigger, rule or column default on the target may change rows; report it if it repeats',
          table: plan.target.display,
        },
      )
    }
    return true
  }

  /** Clears or re-creates the target table inside the transaction; returns whether COPY FREEZE is allowed. */
  private async prepareTarget(client: pg.ClientBase, notes: string[]): Promise<boolean> {
    const { plan, ddl } = this.options
    const table = plan.target.sql
    if (plan.mode === 'recreate' && plan.targetState === 'exists' && plan.source.kind === 'table') {
      await client.query(`SET LOCAL search_path = ''`)
      const dropped = await dropCascade(client, table)
      if (dropped.length) notes.push(`dropping the old table also dropped: ${dropped.join('; ')}`)
      const linked = (plan.targetTable?.parentOids.length ?? 0) > 0
      for (const statement of ddl.recreateTable(plan.source.table, plan.target, linked))
        await client.query(statement)
      for (const setting of ddl.tableSettings(plan.source.table, plan.target)) {
        try {
          await this.options.target.withSavepoint(client, 'tablehaul_setting', () =>
            client.query(setting.sql),
          )
        } catch (error) {
          // A savepoint that could not be rolled back leaves no transaction to go on in.
          if (isConnectionLost(error)) throw error
          notes.push(`${setting.sql} failed: ${messageOf(error)}`)
        }
      }
      await client.query(`SET LOCAL search_path = public`)
      return true
    }
    if (plan.mode === 'append' && plan.targetState === 'exists') return false
    // A sync loads an existing table in full only when it is empty (syncsRows): without TRUNCATE rights
    // it needs no clearing, and a plain COPY (no FREEZE) fills it; other writers wait, as for a sync.
    if (plan.mode === 'sync' && plan.targetState === 'exists' && !syncMayReload(plan)) {
      await client.query(`LOCK TABLE ONLY ${table} IN SHARE ROW EXCLUSIVE MODE`)
      return false
    }
    // An empty table that syncs is loaded as a reload is (syncRows): the keys kept between it and the run's
    // other synced tables are lifted first, since TRUNCATE refuses a table that a key references (0A000),
    // even an empty one. They come back, validated, at the end of the run.
    if (plan.mode === 'sync' && plan.targetState === 'exists') await this.options.liftKeys?.(client)
    // TRUNCATE in the same transaction as the COPY is what allows COPY FREEZE (rows written frozen, no
    // later hint-bit or freeze work) and, on a wal_level=minimal server, skipping WAL for the new data.
    await client.query(`TRUNCATE ONLY ${table}`)
    return true
  }

  /**
   * mode: replace mirrors the source's rows, so the existing table's own triggers must not fire on them
   * (a BEFORE trigger would change them), and FORCE ROW LEVEL SECURITY would refuse them to its owner.
   * Both are switched off inside the copy's transaction and back on before COMMIT: nobody else ever sees
   * the table without them. Only the owner may: for another user nothing is switched off (the planner
   * warns of it). Returns the statements that switch them back.
   */
  private async suspendTriggersAndForcedRls(client: pg.ClientBase): Promise<string[]> {
    const { plan } = this.options
    const existing = plan.targetTable
    const mirrors = plan.mode === 'replace' || plan.mode === 'sync'
    if (!mirrors || plan.targetState !== 'exists' || !existing?.isOwner) return []
    const table = plan.target.sql
    const restore: string[] = []
    for (const trigger of existing.triggers) {
      if (!firesInOurSessions(trigger.enabled)) continue
      const name = quoteIdent(trigger.name)
      await client.query(`ALTER TABLE ${table} DISABLE TRIGGER ${name}`)
      restore.push(`ALTER TABLE ${table} ENABLE ${trigger.enabled === 'A' ? 'ALWAYS ' : ''}TRIGGER ${name}`)
    }
    if (existing.forceRowSecurity) {
      await client.query(`ALTER TABLE ONLY ${table} NO FORCE ROW LEVEL SECURITY`)
      restore.push(`ALTER TABLE ONLY ${table} FORCE ROW LEVEL SECURITY`)
    }
    return restore
  }

  /**
   * mode replace into an existing table: a CHECK that is NOT VALID there may hold rows that break it (the
   * source's, loaded by the first run, which adds checks after the data), and COPY checks every row it
   * writes. Such a check is dropped for the load and added again, still NOT VALID, before COMMIT, in the
   * table's transaction (TRUNCATE already holds its ACCESS EXCLUSIVE lock). Only one the table has of its
   * own and passes to no child: an inherited one cannot be dropped from one table alone, and one added
   * back with ONLY to a parent is refused. Those still fail the table, with the check's name.
   */
  private async liftNotValidChecks(client: pg.ClientBase): Promise<string[]> {
    const { plan } = this.options
    if (plan.mode !== 'replace' || plan.targetState !== 'exists' || !plan.targetTable?.isOwner) return []
    // Only the source's own NOT VALID checks, whose rows may break them: a check added on the target alone
    // is the local copy's rule for the rows it takes, and a source row that breaks it fails the table.
    const fromSource =
      plan.source.kind === 'table'
        ? plan.source.table.constraints.filter((c) => c.type === 'c' && !c.validated).map((c) => c.name)
        : []
    if (fromSource.length === 0) return []
    const table = plan.target.sql
    // oid = regclass has no operator in pg_catalog: another role's in public would match better (both
    // operands are cast to exactly the types of pg_catalog's oid = oid).
    const { rows } = await client.query<{ name: string; definition: string; comment: string | null }>(
      `SELECT con.conname AS name, pg_catalog.pg_get_constraintdef(con.oid) AS definition,
              pg_catalog.obj_description(con.oid, 'pg_constraint') AS comment
         FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
        WHERE con.conrelid = $1::pg_catalog.regclass::pg_catalog.oid AND con.contype = 'c' AND NOT con.convalidated
          AND con.conislocal AND con.coninhcount = 0 AND NOT c.relhassubclass
          AND con.conname = ANY ($2::text[])`,
      [table, fromSource],
    )
    const restore: string[] = []
    for (const check of rows) {
      const name = quoteIdent(check.name)
      await client.query(`ALTER TABLE ONLY ${table} DROP CONSTRAINT ${name}`)
      restore.push(`ALTER TABLE ONLY ${table} ADD CONSTRAINT ${name} ${check.definition}`)
      if (check.comment !== null)
        restore.push(`COMMENT ON CONSTRAINT ${name} ON ${table} IS ${quoteLiteral(check.comment)}`)
    }
    return restore
  }

  private async stream(
    sourceClient: pg.ClientBase,
    targetClient: pg.ClientBase,
    freeze: boolean,
    watchdog: Watchdog,
  ): Promise<Streamed> {
    const { plan } = this.options
    const columns = plan.columns.map((column) => quoteIdent(column.name)).join(', ')
    // A table without columns still has rows; COPY takes no column list for it (`()` is a syntax error).
    const list = columns ? ` (${columns})` : ''
    const format = plan.format === 'binary' ? 'binary' : 'text'
    const into = `COPY ${plan.target.sql}${list} FROM STDIN WITH (FORMAT ${format}${freeze ? ', FREEZE' : ''})`
    const from = `COPY ${this.sourceRelation(columns)} TO STDOUT WITH (FORMAT ${format})`

    const onProgress = this.options.onProgress
    let reportedAt = 0
    const report = () => onProgress?.(source.dataBytes, source.messages)
    const target = targetClient.query(copyIn(into))
    // The scanner counts rows and bytes as they arrive: progress needs no stage of its own on the COPY path.
    const source = sourceClient.query(
      copyOut(from, () => {
        watchdog.touch()
        const now = Date.now()
        if (now - reportedAt >= PROGRESS_INTERVAL_MS) {
          reportedAt = now
          report()
        }
      }),
    )
    let failedSide: 'source' | 'target' | undefined
    source.once('error', () => (failedSide ??= 'source'))
    target.once('error', () => (failedSide ??= 'target'))
    try {
      await pipeline(source, target)
    } catch (error) {
      throw new SideError(failedSide ?? 'target', error)
    }
    report()
    return { rows: target.rowCount, bytes: source.dataBytes, sourceRows: () => source.rowCount }
  }

  private sourceRelation(columns: string): string {
    const { plan } = this.options
    if (plan.source.kind === 'query') return `(${plan.source.query})`
    const table = plan.source.table.ref.sql
    if (plan.source.where) return `(SELECT ${columns || '*'} FROM ONLY ${table} WHERE (${plan.source.where}))`
    // COPY of a table reads only that table's own rows (never its inheritance children's), as SELECT …
    // FROM ONLY would; a partition is read directly, never through its parent.
    return columns ? `${table} (${columns})` : table
  }

  private describe(error: unknown): TablehaulError {
    const table = this.options.plan.target.display
    if (error instanceof TablehaulError) {
      return error.table
        ? error
        : new TablehaulError(error.code, error.message, {
            cause: error.cause ?? error,
            hint: error.hint,
            table,
          })
    }
    if (error instanceof SideError) {
      const cause = error.cause as { where?: string } | undefined
      const context = cause?.where ? ` (${cause.where.split('\n')[0]})` : ''
      return new TablehaulError(
        'TABLE_COPY_FAILED',
        `${error.side} failed during COPY: ${messageOf(cause)}${context}`,
        {
          cause,
          table,
          hint: adviceFor(cause, 'copy', { side: error.side, mode: this.options.plan.mode }),
        },
      )
    }
    return new TablehaulError('TABLE_COPY_FAILED', messageOf(error), {
      cause: error,
      table,
      hint: adviceFor(error, 'copy'),
    })
  }
}

/**
 * The source table a run planned was dropped, or renamed, after the plan read the catalog: the table fails
 * with what to do, the others go on.
 */
function droppedFromSource(plan: TablePlan, cause: unknown): TablehaulError {
  const source = plan.source.kind === 'table' ? plan.source.table : undefined
  const table = source?.ref ?? plan.target
  // A partition comes with its partitioned table's entry, not one of its own: the next plan reads the
  // partitions the source has then.
  if (source?.isPartition) {
    return new TablehaulError(
      'TABLE_NOT_FOUND',
      `source partition ${table.display} no longer exists: it (or its partitioned table) was dropped or renamed on the source after this run read the catalog`,
      {
        cause,
        hint: 'its target table was left as it was; run again: the next run copies the partitions the source has then',
        table: plan.target.display,
      },
    )
  }
  return new TablehaulError(
    'TABLE_NOT_FOUND',
    `source table ${table.display} no longer exists: it was dropped or renamed on the source after this run read the catalog`,
    {
      cause,
      hint: `its target table was left as it was; if the source dropped it for good, remove ${table.display} from tables: (and drop its copy on the target if it is not wanted); if it was renamed, put the new name in tables: (with into: ${plan.target.display} to keep loading the same target table); then run again`,
      table: plan.target.display,
    },
  )
}

/**
 * The connection was lost (or the run stopped) while the target's COMMIT was on its way: the table may or
 * may not have committed. The caller finds out from the run's record of it, written in the same
 * transaction, before it reports or retries anything.
 */
export class CommitOutcomeUnknown extends Error {
  constructor(
    readonly result: CopyResult,
    readonly reason: unknown,
  ) {
    super(`the reply to COMMIT was lost: ${messageOf(reason)}`, { cause: reason })
  }
}

class SideError extends Error {
  constructor(
    readonly side: 'source' | 'target',
    cause: unknown,
  ) {
    super(messageOf(cause), { cause })
  }
}

/**
 * Session settings for the target's copy transactions. lz4 (where the server has it, PostgreSQL 14+) in
 * place of pglz for new TOAST values: pglz tries hard on values it cannot shrink (a copy of hex or
 * random text spent twice the time), lz4 gives up fast; the values read back identical either way, and a
 * column's own COMPRESSION setting still wins. A larger maintenance_work_mem lets the index builds that
 * follow the data in the same transaction sort in memory.
 */
export async function bulkLoadSettings(target: Database): Promise<string[]> {
  const { rows } = await target.query<{ lz4: boolean | null; mem_kb: string }>(
    `SELECT (SELECT 'lz4' = ANY (enumvals) FROM pg_catalog.pg_settings WHERE name = 'default_toast_compression') AS lz4,
            (SELECT setting FROM pg_catalog.pg_settings WHERE name = 'maintenance_work_mem') AS mem_kb`,
  )
  const row = rows[0]
  const settings: string[] = []
  if (row?.lz4) settings.push('default_toast_compression = lz4')
  if (row && Number(row.mem_kb) < 256 * 1024) settings.push(`maintenance_work_mem = '256MB'`)
  return settings
}

/** DROP TABLE … CASCADE, returning what the server says the cascade dropped besides the table. */
async function dropCascade(client: pg.ClientBase, table: string): Promise<string[]> {
  const dropped: string[] = []
  const listen = (notice: { message?: string; detail?: string }) => {
    for (const line of [notice.message ?? '', ...(notice.detail ?? '').split('\n')]) {
      const match = /^drop cascades to (.+)$/.exec(line.trim())
      if (match && !/^\d+ other objects$/.test(match[1]!)) dropped.push(match[1]!)
    }
  }
  client.on('notice', listen)
  try {
    await client.query(`SET LOCAL client_min_messages = notice`)
    await client.query(`DROP TABLE ${table} CASCADE`)
  } finally {
    client.removeListener('notice', listen)
  }
  return dropped
}

/**
 * What a sync did to the target's columns that the source does not have. A column it could not set to its
 * default is named when the sync compared every row (the first sync after the source dropped the column,
 * or after one was added to the target changes a signature), not in every nightly run after.
 */
function targetOnlyNotes(done: TargetOnlyReset, compared: 'written' | 'all', table: TableRef): string[] {
  const notes: string[] = []
  const names = (columns: readonly string[]) => columns.map(displayIdentifier).join(', ')
  // Said once, on the sync that sets them: the next ones find nothing to set, and say nothing.
  const drop = `ALTER TABLE ${table.sql} ${done.reset.map((name) => `DROP COLUMN ${quoteIdent(name)}`).join(', ')}`
  if (done.rows > 0)
    notes.push(
      `set ${names(done.reset)} to ${done.reset.length > 1 ? 'their defaults' : 'its default'} in ${done.rows} row(s): the source has no such column (dropped or renamed there?), and a replace leaves the default there; if the source dropped it, drop it on the target too (${drop})`,
    )
  if (compared === 'all' && done.kept.length > 0)
    notes.push(
      `${names(done.kept)}: the source has no such column, and ${done.kept.length > 1 ? 'their defaults are' : 'its default is'} not the same in every row (now(), a sequence, an identity), so the rows the sync keeps keep their values; a replace would write ${done.kept.length > 1 ? 'the defaults' : 'the default'} anew in every row (drop the column on the target if the source dropped it)`,
    )
  return notes
}
