import { reasonOf } from '../../db/sql-state-advice.js'
import type pg from 'pg'
import { type Database, isConnectionLost } from '../../db/database.js'
import { quoteLiteral } from '../../db/table-ref.js'
import type { ObjectOutcome } from './object-builder.js'

/** Large objects move in pieces of this size: memory holds one piece per side, whatever the object's size. */
const PIECE_BYTES = 1024 * 1024

export interface LargeObjectCopierOptions {
  readonly sourceDb: Database
  readonly targetDb: Database
  /** Starts the source's read transaction in the run's snapshot. */
  readonly beginSource: (client: pg.ClientBase) => Promise<void>
  readonly signal?: AbortSignal | undefined
}

/**
 * Copies the source database's large objects with their OIDs (a table that stores an `oid` column points at
 * them by number), contents and comments. Large objects belong to the database, not to a schema, so only
 * `objects: all` copies them. One that already exists on the target with the same contents is left alone;
 * with other contents it is rewritten. Each one is read and written under its own savepoints, so one the
 * run's role may not read fails alone.
 */
export class LargeObjectCopier {
  constructor(private readonly options: LargeObjectCopierOptions) {}

  async copyAll(): Promise<ObjectOutcome[]> {
    const { sourceDb, targetDb, beginSource, signal } = this.options
    return sourceDb.withTransaction(
      async (source) => {
        const { rows } = await source.query<{ oid: string; comment: string | null }>(
          `SELECT m.oid::int8 AS oid, pg_catalog.obj_description(m.oid, 'pg_largeobject') AS comment
             FROM pg_catalog.pg_largeobject_metadata m ORDER BY m.oid`,
        )
        if (rows.length === 0) return []
        return targetDb.withTransaction(
          async (target) => {
            const outcomes: ObjectOutcome[] = []
            for (const row of rows) {
              signal?.throwIfAborted()
              outcomes.push(await this.copyOne(source, target, row.oid, row.comment))
            }
            return outcomes
          },
          { signal },
        )
      },
      { begin: beginSource, signal },
    )
  }

  private async copyOne(
    source: pg.ClientBase,
    target: pg.ClientBase,
    oid: string,
    comment: string | null,
  ): Promise<ObjectOutcome> {
    const identity = `LARGE OBJECT ${oid}`
    try {
      const status = await this.options.sourceDb.withSavepoint(source, 'tablehaul_lo_read', () =>
        this.options.targetDb.withSavepoint(target, 'tablehaul_lo_write', async () => {
          const exists = await target.query(
            'SELECT 1 FROM pg_catalog.pg_largeobject_metadata WHERE oid = $1::int8::oid',
            [oid],
          )
          let status: ObjectOutcome['status'] = 'unchanged'
          if (exists.rowCount === 0 || !(await sameContents(source, target, oid))) {
            if (exists.rowCount !== 0) {
              status = 'replaced'
              await target.query('SELECT pg_catalog.lo_unlink($1::int8::oid)', [oid])
            } else status = 'created'
            await writeContents(source, target, oid)
          }
          const current = await target.query<{ comment: string | null }>(
            `SELECT pg_catalog.obj_description($1::int8::oid, 'pg_largeobject') AS comment`,
            [oid],
          )
          if ((current.rows[0]?.comment ?? null) !== comment) {
            await target.query(
              `COMMENT ON LARGE OBJECT ${BigInt(oid)} IS ${comment === null ? 'NULL' : quoteLiteral(comment)}`,
            )
          }
          return status
        }),
      )
      return { kind: 'large object', identity, status }
    } catch (error) {
      if (isConnectionLost(error)) throw error
      return { kind: 'large object', identity, status: 'failed', reason: reasonOf(error, 'target') }
    }
  }
}

async function readPiece(client: pg.ClientBase, oid: string, offset: number): Promise<Buffer> {
  const { rows } = await client.query<{ piece: Buffer }>(
    'SELECT pg_catalog.lo_get($1::int8::oid, $2::int8, $3) AS piece',
    [oid, offset, PIECE_BYTES],
  )
  return rows[0]!.piece
}

async function sameContents(source: pg.ClientBase, target: pg.ClientBase, oid: string): Promise<boolean> {
  for (let offset = 0; ; offset += PIECE_BYTES) {
    const [mine, theirs] = [await readPiece(source, oid, offset), await readPiece(target, oid, offset)]
    if (!mine.equals(theirs)) return false
    if (mine.length < PIECE_BYTES) return true
  }
}

async function writeContents(source: pg.ClientBase, target: pg.ClientBase, oid: string): Promise<void> {
  // lo_create with the source's OID: a table column that holds it keeps pointing at the same object.
  await target.query('SELECT pg_catalog.lo_create($1::int8::oid)', [oid])
  for (let offset = 0; ; offset += PIECE_BYTES) {
    const piece = await readPiece(source, oid, offset)
    if (piece.length > 0) {
      await target.query('SELECT pg_catalog.lo_put($1::int8::oid, $2::int8, $3::bytea)', [oid, offset, piece])
    }
    if (piece.length < PIECE_BYTES) return
  }
}
