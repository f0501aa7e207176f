import type { Catalog, TableInfo } from '../../catalog/catalog.js'
import { type Database, withSavepoint } from '../../db/database.js'
import { quoteIdent, quoteLiteral, splitQualifiedName, TableRef } from '../../db/table-ref.js'
import { TablehaulError, messageOf, sqlStateOf } from '../../errors.js'
import type { TablePlan } from '../plan/planner.js'
import { reasonOf } from '../../db/sql-state-advice.js'
import type pg from 'pg'

/** Foreign keys lifted per target transaction (see lift). */
const KEYS_PER_TRANSACTION = 50

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
 * Where lifted keys are remembered on the target (the run's history), so that a run killed before it put
 * them back has the next run restore them.
 */
export interface LiftedKeyStore {
  /** False when the target refused the bookkeeping tables: nothing is remembered. */
  readonly keepsRecords: boolean
  pendingForeignKeys(): Promise<ForeignKey[]>
  recordLiftedKeys(client: pg.ClientBase, keys: readonly ForeignKey[]): Promise<void>
  clearLiftedKey(key: ForeignKey): Promise<void>
}

/**
 * Foreign keys during a run. Keys between tables that the run writes are lifted before the copy (TRUNCATE
 * refuses a referenced table, and a key checked row by row slows the load and depends on the order tables
 * arrive in), then put back, validated, once every table is in; tables the run creates get their keys then.
 */
export class ForeignKeys {
  private readonly lifted: ForeignKey[] = []
  /** Keys between two tables that sync in place: left on, unless a sync has to lift them (liftWithin). */
  private readonly kept: ForeignKey[] = []

  constructor(
    private readonly target: Database,
    private readonly targetCatalog: Catalog,
    private readonly history: LiftedKeyStore,
  ) {}

  /**
   * Drops the keys on existing target tables whose both ends the run writes; they come back in `restore`.
   * A partitioned table counts as written when partitions of it are: its keys reach into them.
   */
  async lift(
    plans: readonly TablePlan[],
    reloads: ReadonlySet<string> = new Set(),
  ): Promise<Map<string, TablehaulError>> {
    const written = new Set<string>()
    const mark = (table: TableInfo) => {
      if (written.has(table.ref.key)) return
      written.add(table.ref.key)
      for (const parent of this.targetCatalog.parents(table)) if (table.isPartition) mark(parent)
    }
    // A sync changes rows in place, key by key, and a key checks each change as it is made: usually
    // nothing breaks, and then there is nothing to check again at the end (a validation reads both
    // tables in full). A sync that would break one lifts it then (liftWithin). Not when a sync is expected
    // to reload (`reloads`, by target table key): lifting takes a lock on the table at the key's other end,
    // whose own sync holds it, and two syncs that reload both ends would each wait for the other.
    const syncing = new Set<string>()
    // The source's foreign keys, by the target table its rows go to.
    const sourceKeys = new Map<string, readonly string[]>()
    for (const plan of plans) {
      if (plan.source.kind === 'table')
        sourceKeys.set(
          plan.target.key,
          plan.source.table.constraints.filter((c) => c.type === 'f').map((c) => c.definition),
        )
    }
    for (const plan of plans) {
      const table = plan.targetTable
      if (!plan.problem && plan.targetState === 'exists' && table) mark(table)
      if (
        !plan.problem &&
        plan.targetState === 'exists' &&
        table &&
        plan.mode === 'sync' &&
        plan.syncKey &&
        !reloads.has(plan.target.key)
      )
        syncing.add(table.ref.key)
    }
    const keys: ForeignKey[] = []
    // ALTER TABLE … DROP CONSTRAINT is for the owner of the key's table only.
    const notOwned: string[] = []
    for (const table of this.targetCatalog.tables) {
      if (!written.has(table.ref.key)) continue
      for (const constraint of table.constraints) {
        // a partition's copy of its parent's key goes and comes back with the parent's
        if (constraint.type !== 'f' || !constraint.isLocal || constraint.parentConstraintOid !== 0) continue
        const referenced = this.targetCatalog.tableByOid(constraint.referencedTableOid)
        if (referenced && written.has(referenced.ref.key)) {
          const key = {
            table: table.ref,
            name: constraint.name,
            definition: constraint.definition,
            comment: constraint.comment,
          }
          if (
            syncing.has(table.ref.key) &&
            syncing.has(referenced.ref.key) &&
            !(writesRows(key.definition) && !sourceKeys.get(table.ref.key)?.includes(key.definition))
          )
            this.kept.push(key)
          else {
            keys.push(key)
            if (!table.isOwner) notOwned.push(`${key.name} of ${table.ref.display}`)
          }
        }
      }
    }
    if (keys.length === 0) return new Map()
    if (notOwned.length > 0) {
      throw new TablehaulError(
        'PRIVILEGE_MISSING',
        `the run must drop foreign key${notOwned.length > 1 ? 's' : ''} ${notOwned.join(', ')} while it writes the tables at both ends and put ${notOwned.length > 1 ? 'them' : 'it'} back after (TRUNCATE refuses a referenced table; a sync lifts a key with an ON DELETE or ON UPDATE action that the source lacks), and only the owner of a table may drop its keys`,
        {
          hint: "connect to the target as the tables' owner (or grant the owning role to the target user), or leave one end of each key out of this run",
        },
      )
    }
    // Fifty keys per transaction: dropping a key takes about six locks held until the transaction ends
    // (its table, the referenced table, the constraint and its four triggers), and the target's lock table
    // holds max_locks_per_transaction × max_connections (6,400 by default) for every session: a replace
    // that lifted 8,000 keys at once failed with SQLSTATE 53200 every run, and ~90 filled a table of 512.
    const locked = new LockedTables(this.target)
    for (let start = 0; start < keys.length; start += KEYS_PER_TRANSACTION) {
      const batch = keys.slice(start, start + KEYS_PER_TRANSACTION)
      const dropped = await this.target.withTransaction(async (client) => {
        const dropped: ForeignKey[] = []
        for (const key of batch) {
          if (locked.blocks(key)) continue
          try {
            await withSavepoint(client, 'tablehaul_lift', () =>
              client.query(`ALTER TABLE ${key.table.sql} DROP CONSTRAINT ${quoteIdent(key.name)}`),
            )
            dropped.push(key)
          } catch (error) {
            // 55P03 lock_not_available: dropping a key locks both its tables, and a session that reads one
            // of them in a long transaction (a report, a session left idle in a transaction) holds it
            // until it ends. Only the tables at the key's ends wait for it; the others go ahead.
            if (sqlStateOf(error) !== '55P03') throw error
            await locked.found(key, error)
          }
        }
        // Recorded in the transaction that drops them: if this run dies before putting them back, the next
        // run on this target does.
        await this.history.recordLiftedKeys(client, dropped)
        return dropped
      })
      // Those of a batch that failed went nowhere; the ones before it are back after the run (restore).
      this.lifted.push(...dropped)
    }
    return locked.failures(plans, this.targetCatalog)
  }

  /**
   * Lifts, in the transaction of `table`'s sync, the kept keys that reference it or that it holds, and
   * records them as pending in the same transaction: committed, they are put back validated by `restore`
   * (as pending keys); rolled back, they never went. Returns how many it lifted.
   */
  async liftWithin(client: pg.ClientBase, table: TableRef): Promise<number> {
    const keys = this.kept.filter((key) => key.table.equals(table) || referencedKey(key) === table.key)
    if (keys.length === 0) return 0
    for (const key of keys)
      await client.query(`ALTER TABLE ${key.table.sql} DROP CONSTRAINT IF EXISTS ${quoteIdent(key.name)}`)
    await this.history.recordLiftedKeys(client, keys)
    return keys.length
  }

  /**
   * Creates the lifted keys and `created` ones, validated. A key whose rows do not hold (for example when
   * one of its tables failed to copy and kept old rows) is created NOT VALID instead, so it still guards
   * new rows, and reported. A key of a table this run created, or one left over by an earlier run, waits
   * instead while one of its tables did not get its data (`dataIn`: it failed, or the run stopped before
   * it): checked now, it would fail against rows that are simply not there yet. It stays recorded in
   * tablehaul.pending_foreign_keys, and the run that copies that table creates it, validated. Returns notes
   * by referencing table key.
   */
  async restore(
    created: readonly ForeignKey[],
    jobs: number,
    dataIn: (tableKey: string) => boolean,
  ): Promise<Map<string, string[]>> {
    const notes = new Map<string, string[]>()
    const note = (key: ForeignKey, text: string) => {
      const list = notes.get(key.table.key) ?? []
      list.push(text)
      notes.set(key.table.key, list)
    }
    const lifted = [...this.lifted]
    const pending: ForeignKey[] = []
    const same = (a: ForeignKey) => (b: ForeignKey) => a.table.equals(b.table) && a.name === b.name
    for (const key of await this.history.pendingForeignKeys()) {
      if (!lifted.some(same(key))) pending.push(key)
    }
    // Kept keys a sync lifted in its committed transaction (without bookkeeping they are not pending).
    for (const key of await this.keptButGone()) {
      if (!lifted.some(same(key)) && !pending.some(same(key))) pending.push(key)
    }
    const waiting = (key: ForeignKey): TableRef | undefined =>
      this.history.keepsRecords
        ? [key.table, referencedTable(key)].find((table) => table && !dataIn(table.key))
        : undefined
    const deferred: ForeignKey[] = []
    for (const key of [...pending, ...created]) {
      const table = waiting(key)
      if (!table) continue
      deferred.push(key)
      note(
        key,
        `foreign key ${key.name} is not created yet: ${table.display} did not get its data in this run; the run that copies it creates the key (it is kept in tablehaul.pending_foreign_keys)`,
      )
    }
    await this.keepPending(created.filter((key) => deferred.includes(key)))
    const now = [...lifted, ...pending, ...created].filter((key) => !deferred.includes(key))
    await runKeysInParallel(now, jobs, async (key) => {
      const text = await this.add(key)
      if (text) note(key, text)
    })
    return notes
  }

  private async keptButGone(): Promise<ForeignKey[]> {
    if (this.kept.length === 0) return []
    const { rows } = await this.target.query<{ table_schema: string; table_name: string; name: string }>(
      `SELECT n.nspname AS table_schema, c.relname AS table_name, k.conname AS name
         FROM pg_catalog.pg_constraint k
         JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE k.contype = 'f'`,
    )
    const present = new Set(
      rows.map((row) => `${new TableRef(row.table_schema, row.table_name).key}\u0000${row.name}`),
    )
    return this.kept.filter((key) => !present.has(`${key.table.key}\u0000${key.name}`))
  }

  private async keepPending(keys: readonly ForeignKey[]): Promise<void> {
    if (keys.length === 0) return
    await this.target.withClient((client) => this.history.recordLiftedKeys(client, keys))
  }

  /** Creates one key; returns a note when it could not be created as it was, undefined when it was. */
  private async add(key: ForeignKey): Promise<string | undefined> {
    const add = `ALTER TABLE ${key.table.sql} ADD CONSTRAINT ${quoteIdent(key.name)} ${key.definition}`
    const comment =
      key.comment == null
        ? undefined
        : `COMMENT ON CONSTRAINT ${quoteIdent(key.name)} ON ${key.table.sql} IS ${quoteLiteral(key.comment)}`
    try {
      await this.target.query(add)
      if (comment) await this.target.query(comment)
      await this.history.clearLiftedKey(key)
      return undefined
    } catch (error) {
      if (sqlStateOf(error) === '42710') {
        // already there: a run that died after putting it back, before forgetting it
        await this.history.clearLiftedKey(key)
        return undefined
      }
      if (sqlStateOf(error) === '23503' && !/NOT VALID/.test(key.definition)) {
        try {
          await this.target.query(`${add} NOT VALID`)
          if (comment) await this.target.query(comment)
          await this.history.clearLiftedKey(key)
          return `foreign key ${key.name} was created NOT VALID: existing rows violate it (${messageOf(error)}); once the data is fixed, run ALTER TABLE ${key.table.sql} VALIDATE CONSTRAINT ${quoteIdent(key.name)}`
        } catch {
          // reported below
        }
      }
      return `foreign key ${key.name} could not be created (it stays recorded in tablehaul.pending_foreign_keys and the next run tries again): ${reasonOf(error, 'target')}`
    }
  }
}

/**
 * A key whose ON DELETE or ON UPDATE action writes rows of its own (CASCADE, SET NULL, SET DEFAULT). Kept on
 * during a sync, it changes the referencing table when the referenced table's sync deletes or re-keys a
 * row: right when the source has the same key (its rows changed that way too), wrong when only the target
 * has it, and then it may act after the referencing table's sync committed, so a copy reported identical
 * would not be. Such a key of the target alone is lifted for the run, as for a reload.
 */
function writesRows(definition: string): boolean {
  return /\bON (DELETE|UPDATE) (CASCADE|SET NULL|SET DEFAULT)\b/.test(definition)
}

/**
 * Runs `add` for every key, `jobs` at a time. Adding a key locks both its tables against other key
 * additions (SHARE ROW EXCLUSIVE), so keys that share a table wait for each other here rather than on
 * the server's lock, where they would run into lock_timeout.
 */
export async function runKeysInParallel(
  keys: readonly ForeignKey[],
  jobs: number,
  add: (key: ForeignKey) => Promise<void>,
): Promise<void> {
  // Each key's two tables read once: the waiting list is searched every time a key is added, and keys that
  // share a table (thousands referencing one parent) all wait, so parsing them there was quadratic (8,000
  // keys: tens of seconds of CPU).
  const waiting = keys.map((key) => ({ key, tables: [key.table.key, referencedKey(key)] }))
  const busy = new Set<string>()
  await new Promise<void>((resolve, reject) => {
    let running = 0
    const next = () => {
      if (waiting.length === 0 && running === 0) return resolve()
      while (running < Math.max(1, jobs)) {
        const index = waiting.findIndex(({ tables }) => tables.every((t) => !busy.has(t)))
        if (index === -1) return
        const [{ key, tables }] = waiting.splice(index, 1) as [{ key: ForeignKey; tables: string[] }]
        tables.forEach((t) => busy.add(t))
        running++
        add(key)
          .then(() => {
            running--
            tables.forEach((t) => busy.delete(t))
            next()
          })
          .catch(reject)
      }
    }
    next()
  })
}

/** The referenced table of a key, read from its definition (`… REFERENCES schema.table(…)`). */
function referencedTable(key: ForeignKey): TableRef | undefined {
  const match = /REFERENCES\s+((?:"(?:[^"]|"")+"|[^\s(."]+)\.(?:"(?:[^"]|"")+"|[^\s(."]+))/.exec(
    key.definition,
  )
  if (!match) return undefined
  const [schema, name] = splitQualifiedName(match[1]!)
  return new TableRef(schema!, name!)
}

function referencedKey(key: ForeignKey): string {
  return referencedTable(key)?.key ?? key.definition
}

/**
 * The target tables a key could not be dropped for, because another session holds a lock on one of its
 * ends. Both ends fail, their rows kept: with the key still there PostgreSQL refuses to empty the referenced
 * table (TRUNCATE), and the referencing table's new rows would be checked against the referenced table's old
 * ones. Once a table is known to be locked, its other keys are not tried: each would wait timeouts.lock again.
 */
class LockedTables {
  /** The session holding each locked table, by table key (`undefined`: it was gone when asked). */
  private readonly holders = new Map<string, LockHolder | undefined>()
  /** Each key that could not be dropped, with its ends. */
  private readonly blocked: Array<{ key: ForeignKey; ends: TableRef[] }> = []
  /** The first lock timeout, kept as each failure's cause. */
  private cause: unknown

  constructor(private readonly target: Database) {}

  /** Whether `key` touches a table already known to be locked (it is then counted as blocked). */
  blocks(key: ForeignKey): boolean {
    const ends = endsOf(key)
    if (!ends.some((end) => this.holders.has(end.key))) return false
    this.blocked.push({ key, ends })
    return true
  }

  /** `key`'s drop waited for a lock in vain: which of its tables another session holds, and who. */
  async found(key: ForeignKey, error: unknown): Promise<void> {
    const ends = endsOf(key)
    this.blocked.push({ key, ends })
    const holders = await lockHolders(this.target, ends).catch(() => new Map<string, LockHolder>())
    // The holder may have ended meanwhile: then neither end is known to be free, and both count as locked.
    const held = ends.filter((end) => holders.has(end.key))
    for (const end of held.length > 0 ? held : ends) this.holders.set(end.key, holders.get(end.key))
    this.cause ??= error
  }

  /** A TABLE_LOCKED error for each planned table at an end of a key that could not be dropped. */
  failures(plans: readonly TablePlan[], catalog: Catalog): Map<string, TablehaulError> {
    const failures = new Map<string, TablehaulError>()
    if (this.blocked.length === 0) return failures
    for (const plan of plans) {
      if (!plan.targetTable || failures.has(plan.target.key)) continue
      // A partition is written with its partitioned table, whose keys reach into it.
      const refs = [plan.targetTable.ref, ...catalog.parents(plan.targetTable).map((parent) => parent.ref)]
      const blocked = this.blocked.find(({ ends }) => ends.some((end) => refs.some((ref) => ref.equals(end))))
      if (!blocked) continue
      const lockedEnd = blocked.ends.find((end) => this.holders.has(end.key)) ?? blocked.ends[0]!
      const holder = this.holders.get(lockedEnd.key)
      const who = holder
        ? `another session (server pid ${holder.pid}${holder.since ? `, in a transaction since ${holder.since}` : ''}) holds a lock on it`
        : 'another session held a lock on it'
      const [referencing, referenced] = blocked.ends
      const between = referenced
        ? `between ${referencing!.display} and ${referenced.display}`
        : `of ${referencing!.display}`
      const self = refs.some((ref) => ref.equals(lockedEnd))
      failures.set(
        plan.target.key,
        new TablehaulError(
          'TABLE_LOCKED',
          `${self ? '' : 'not written: '}target table ${lockedEnd.display} is locked: ${who}, so the run could not drop foreign key ${blocked.key.name} ${between} within timeouts.lock (a key is dropped while the tables at both ends are emptied and loaded)`,
          {
            cause: this.cause,
            hint: holder
              ? `run again once that transaction ends; to see it, on the target: SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE pid = ${holder.pid}`
              : "run again; the session had ended when the run looked for it (to see who holds a lock on a table, on the target: SELECT pid, mode FROM pg_locks WHERE granted AND relation = '<table>'::regclass)",
            table: plan.target.display,
          },
        ),
      )
    }
    return failures
  }
}

interface LockHolder {
  readonly pid: number
  readonly since: string | null
}

function endsOf(key: ForeignKey): TableRef[] {
  const referenced = referencedTable(key)
  return referenced && !referenced.equals(key.table) ? [key.table, referenced] : [key.table]
}

/** The first other session holding a granted lock on each of `tables` (or a partition of it), by table key. */
async function lockHolders(target: Database, tables: readonly TableRef[]): Promise<Map<string, LockHolder>> {
  const holders = new Map<string, LockHolder>()
  for (const table of tables) {
    // Operands of exactly the types of pg_catalog's oid = oid: it has no oid = regclass, and another role's
    // in public would match better (the session's search_path is public).
    const { rows } = await target.query<{ pid: number; since: string | null }>(
      `SELECT l.pid, to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS since
         FROM pg_catalog.pg_locks l
         LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_catalog.pg_backend_pid()
          AND (l.relation = ${quoteLiteral(table.sql)}::pg_catalog.regclass::pg_catalog.oid
               -- a key of a partitioned table is dropped from each partition too, which a reader may hold
               OR l.relation IN (SELECT relid::pg_catalog.oid FROM pg_catalog.pg_partition_tree(${quoteLiteral(table.sql)}::pg_catalog.regclass)))
        ORDER BY a.xact_start NULLS LAST
        LIMIT 1`,
    )
    if (rows[0]) holders.set(table.key, rows[0])
  }
  return holders
}
