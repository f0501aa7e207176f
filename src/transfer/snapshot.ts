import type pg from 'pg'
import { type Database, discardClient, isConnectionLost } from '../db/database.js'
import { quoteLiteral } from '../db/table-ref.js'
import { TablehaulError, messageOf } from '../errors.js'

/**
 * The run's single point in time on the source. One transaction exports its snapshot
 * (`pg_export_snapshot`) and stays open for the whole run, because PostgreSQL only lets other sessions
 * import a snapshot while the exporting transaction is alive; every source read then runs in a
 * REPEATABLE READ READ ONLY transaction that imports it, so all tables come from the same instant.
 */
export class Snapshot {
  private holder: pg.PoolClient | undefined
  private snapshotId: string | undefined
  private takenAtIso: string | undefined
  private unavailableReason: string | undefined

  constructor(
    private readonly source: Database,
    private readonly lockTimeoutMs: number,
  ) {}

  /** Starts the holding transaction and exports its snapshot; where the source cannot, notes why and goes on. */
  async open(): Promise<void> {
    const client = await this.source.connect()
    this.holder = client
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY')
      await client.query(`SET LOCAL lock_timeout = ${Math.round(this.lockTimeoutMs)}`)
      const { rows } = await client.query<{ id: string; taken_at: Date }>(
        'SELECT pg_catalog.pg_export_snapshot() AS id, pg_catalog.statement_timestamp() AS taken_at',
      )
      this.snapshotId = rows[0]!.id
      this.takenAtIso = rows[0]!.taken_at.toISOString()
    } catch (error) {
      if (isConnectionLost(error)) {
        this.release()
        throw this.source.connectionError(error)
      }
      // Standbys before PostgreSQL 10, some poolers and some PostgreSQL-compatible servers cannot export.
      this.unavailableReason = `the source cannot export a snapshot (${messageOf(error)}); each table is read at its own point in time`
      await client.query('ROLLBACK').catch(() => {})
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY')
      const { rows } = await client.query<{ taken_at: Date }>(
        'SELECT pg_catalog.statement_timestamp() AS taken_at',
      )
      this.takenAtIso = rows[0]!.taken_at.toISOString()
    }
  }

  /** The connection inside the holding transaction, for catalog reads that must see the snapshot too. */
  get client(): pg.PoolClient {
    if (!this.holder) throw new Error('snapshot is not open')
    return this.holder
  }

  get id(): string | undefined {
    return this.snapshotId
  }

  get takenAt(): string | undefined {
    return this.takenAtIso
  }

  get unavailable(): string | undefined {
    return this.unavailableReason
  }

  /** Starts a read transaction on `client` that sees exactly the run's snapshot. */
  async begin(client: pg.ClientBase): Promise<void> {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY')
    // A COPY reads as long as the table takes: the copier's watchdog bounds it, not statement_timeout.
    await client.query(
      `SET LOCAL lock_timeout = ${Math.round(this.lockTimeoutMs)}; SET LOCAL statement_timeout = 0`,
    )
    if (!this.snapshotId) return
    try {
      await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(this.snapshotId)}`)
    } catch (error) {
      if (isConnectionLost(error)) throw error
      throw new TablehaulError(
        'SNAPSHOT_FAILED',
        `the run's source snapshot can no longer be used: ${messageOf(error)}`,
        {
          cause: error,
          hint: 'the transaction holding it ended (source restart or a killed session); run again',
        },
      )
    }
  }

  /** Ends the holding transaction by closing its connection: it only read, and a COMMIT could wait on a frozen link. */
  async close(): Promise<void> {
    this.release()
  }

  private release(): void {
    if (this.holder) discardClient(this.holder)
    this.holder = undefined
  }
}
