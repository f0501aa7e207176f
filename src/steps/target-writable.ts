import type pg from 'pg'
import { type Database, clientLimitMs } from '../db/database.js'
import { quoteIdent, quoteLiteral } from '../db/table-ref.js'
import { TablehaulError, sqlStateOf } from '../errors.js'

/** What decides whether the target takes the run's writes, read in the run's own session. */
interface WriteSettings {
  readonly standby: boolean
  readonly read_only: string
  readonly synchronous_commit: string
  readonly synchronous_standby_names: string
  readonly role: string
  readonly database: string
}

/** synchronous_commit values under which a COMMIT waits for the standbys of synchronous_standby_names. */
const WAITS_FOR_STANDBYS = new Set(['on', 'remote_write', 'remote_apply'])

/**
 * Proves, before anything is written, that the target takes the run's writes and commits them. A DBA's
 * setting that forbids or stalls them otherwise surfaced table by table as a cryptic error ("cannot execute
 * ALTER TABLE in a read-only transaction", as INTERNAL for a replace) or as a run that never ended:
 *
 * - a standby (pg_is_in_recovery) and default_transaction_read_only = on (ALTER ROLE / ALTER DATABASE …
 *   SET) refuse every write (SQLSTATE 25006);
 * - with synchronous_standby_names set and synchronous_commit on (or remote_*), every COMMIT waits until a
 *   listed standby confirms it. PostgreSQL ends that wait only on a cancel request or the backend's end:
 *   statement_timeout is off while a transaction commits, and a client that closes its connection is not
 *   noticed. With the standby gone, the run's first COMMIT that wrote anything waited for ever. A
 *   transaction that writes only a temporary table (a COMMIT waits only when its transaction wrote WAL)
 *   shows it within timeouts.connect; its wait is then cancelled (it stays committed, and left nothing).
 */
export async function requireWritableTarget(
  target: Database,
  timeouts: { readonly connectMs: number },
): Promise<void> {
  const { settings, refusal } = await readWriteSettings(target)
  if (refusal) throw refusal
  const alterRole = alterRoleOf(settings)
  const names = settings.synchronous_standby_names.trim()
  if (!names || !WAITS_FOR_STANDBYS.has(settings.synchronous_commit)) return
  const confirmed = await commitWithin(target, timeouts.connectMs)
  if (confirmed) return
  throw new TablehaulError(
    'TARGET_READ_ONLY',
    `the target's COMMITs wait for a synchronous standby (synchronous_standby_names = ${quoteLiteral(names)}, synchronous_commit = ${settings.synchronous_commit}) that did not confirm one within ${Math.round(timeouts.connectMs / 1000)}s: every table's COMMIT would wait for ever`,
    {
      hint: `start that standby, or correct synchronous_standby_names on the target; or let the run's role commit without waiting for it: ${alterRole} SET synchronous_commit = local`,
    },
  )
}

/**
 * Why the target refuses every write (a standby, default_transaction_read_only), or undefined; reads only,
 * for `plan` as for a run.
 */
export async function targetRefusesWrites(target: Database): Promise<TablehaulError | undefined> {
  return (await readWriteSettings(target)).refusal
}

function alterRoleOf(settings: WriteSettings): string {
  return `ALTER ROLE ${quoteIdent(settings.role)} IN DATABASE ${quoteIdent(settings.database)}`
}

async function readWriteSettings(
  target: Database,
): Promise<{ settings: WriteSettings; refusal?: TablehaulError | undefined }> {
  const settings = await target.withClient(async (client) => {
    const { rows } = await client.query<WriteSettings>(
      `SELECT pg_catalog.pg_is_in_recovery() AS standby,
              pg_catalog.current_setting('transaction_read_only') AS read_only,
              pg_catalog.current_setting('synchronous_commit') AS synchronous_commit,
              pg_catalog.current_setting('synchronous_standby_names') AS synchronous_standby_names,
              current_user AS role, pg_catalog.current_database() AS database`,
    )
    return rows[0]!
  })
  if (settings.standby) {
    return {
      settings,
      refusal: new TablehaulError(
        'TARGET_READ_ONLY',
        `the target ${target.displayUrl} is a standby server (in recovery): it accepts no writes`,
        { hint: 'point target.url at the primary server (or a database that is not a replica)' },
      ),
    }
  }
  if (settings.read_only === 'on') {
    return {
      settings,
      refusal: new TablehaulError(
        'TARGET_READ_ONLY',
        `the target database ${settings.database} is read-only for role ${settings.role}: default_transaction_read_only is on (ALTER ROLE … SET or ALTER DATABASE … SET, or postgresql.conf)`,
        {
          hint: `let the run's role write there: ${alterRoleOf(settings)} SET default_transaction_read_only = off (as a superuser), or point target.url at a writable database`,
        },
      ),
    }
  }
  return { settings }
}

/**
 * Commits a transaction that writes nothing that stays; false when its COMMIT did not return within
 * `limitMs`: the wait is then cancelled from another connection (the COMMIT's own is busy), and the server
 * answers the COMMIT with a WARNING and success. Should no answer come even so, the connection is closed.
 */
async function commitWithin(target: Database, limitMs: number): Promise<boolean> {
  const giveUp = new AbortController()
  let waited = false
  const timers: NodeJS.Timeout[] = []
  try {
    await target.withClient(
      async (client) => {
        await client.query('BEGIN')
        // A COMMIT waits only for a transaction that wrote WAL before it: a temporary table's catalog rows
        // are, and ON COMMIT DROP leaves nothing behind. Without the TEMP privilege there is no probe.
        try {
          await client.query('CREATE TEMPORARY TABLE tablehaul_commit_probe () ON COMMIT DROP')
        } catch (error) {
          if (sqlStateOf(error) !== '42501') throw error
          await client.query('ROLLBACK')
          return
        }
        timers.push(
          setTimeout(() => {
            waited = true
            void cancel(target, client)
          }, limitMs),
          setTimeout(() => giveUp.abort(new Error('the COMMIT did not return')), clientLimitMs(limitMs)),
        )
        await client.query('COMMIT')
      },
      { signal: giveUp.signal },
    )
  } catch (error) {
    if (!giveUp.signal.aborted) throw error
  } finally {
    for (const timer of timers) clearTimeout(timer)
  }
  return !waited
}

/** pg_cancel_backend of `client`'s backend, from another connection; if that fails, the client's limit ends it. */
async function cancel(target: Database, client: pg.PoolClient): Promise<void> {
  const pid = (client as unknown as { processID?: number }).processID
  if (pid) await target.query('SELECT pg_catalog.pg_cancel_backend($1)', [pid]).catch(() => {})
}
