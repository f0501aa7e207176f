import type pg from 'pg'
import { z } from 'zod'
import { quoteLiteral } from '../../db/table-ref.js'
import type { TablePlan } from '../plan/planner.js'

/**
 * What lets the next sync of a table read only the rows written since the last copy, instead of hashing
 * every row on both servers.
 *
 * Every row version carries the id of the transaction that wrote it (xmin); an UPDATE writes a new version,
 * so a row that nobody wrote since a snapshot was taken still has an xmin that the snapshot saw committed.
 * PostgreSQL keeps the raw xmin when it freezes a row, and compares 32-bit ids modulo 2^32 (`age()`), which
 * is exact while fewer than 2^31 transactions lie between the two. Every id below a snapshot's xmin had ended
 * when it was taken; between its xmin and xmax, the ids it did not see committed are its transactions in
 * progress and their subtransactions, which the run reads from the commit log as it exports the snapshot (see
 * readUnseen; where it cannot, every id from xmin on counts as unseen). A row written under an unseen id or
 * one from xmax on is a candidate: it is compared, and left alone when equal. The rule never misses a row.
 * Rows deleted leave no version, so deletes are found by counting keys (see TableSyncer.syncSince).
 *
 * What makes a mark unusable, so that the sync compares every row instead: another server, database,
 * timeline (a restore to an earlier point reuses ids) or major version, an unreadable system identifier, a
 * standby snapshot that may not include the last one, the table rewritten or truncated on either side (a
 * new relfilenode), a change of the columns' positions, names, types, collations, enum labels or the
 * extensions behind their types (any of which changes a row's text without writing it), a `where:` on the
 * table, row level security on the source, a column that prints catalog names (regclass …), rows of the
 * target written by anyone else, and more than 2^30 transactions since.
 */
export interface SourceSince {
  /** pg_control_system().system_identifier, where the role may read it. */
  readonly system?: string | undefined
  /**
   * The server's timeline: on a primary, that of its current WAL position (it changes at a promotion, while
   * the last checkpoint's may lag for minutes); on a standby, the last checkpoint's (where readable).
   */
  readonly timeline?: string | undefined
  /** The server's major version: pg_upgrade keeps ids and files, but a type may print differently. */
  readonly version?: string | undefined
  /**
   * The source was a standby: its snapshot follows the primary's commits with a lag, so a later snapshot
   * need not include everything an earlier one (of the primary, or of another standby) saw.
   */
  readonly standby?: boolean | undefined
  /**
   * The source database's oid: a database made from another (CREATE DATABASE … TEMPLATE) has the same table
   * oids, relfilenodes and row xmins, and transaction ids are the server's, not the database's.
   */
  readonly database?: string | undefined
  /** `oid:relfilenode` of the source table. */
  readonly relation: string
  readonly signature: string
  /** See RowTextSignature. */
  readonly shape?: string | undefined
  readonly labels?: EnumLabels | undefined
  /**
   * The digest of the labels the last copy recorded (those up to its `labels.max`) as they read now: equal
   * when none was renamed. Only for comparing with that copy; not read back from a mark.
   */
  readonly labelsBefore?: string | undefined
  /** The run's snapshot, as 64-bit transaction ids: every id below xmin had ended. */
  readonly xmin: string
  readonly xmax: string
  /** Row level security applies to the source table: the rows a role sees may change without being written. */
  readonly rowSecurity: boolean
  /**
   * A column's type (through arrays, domains, ranges, composites) prints catalog names (regclass and the
   * other reg* types): a rename changes the row's text without writing it.
   */
  readonly namesObjects?: boolean | undefined
  /**
   * The table's cumulative count of deleted rows (pg_stat_all_tables.n_tup_del) when it was read: only a
   * prediction of whether the next sync will find deletes (see SinceConditions.deletes).
   */
  readonly deletes?: string | undefined
  /**
   * The ids (32-bit) between xmin and xmax that the snapshot did not see committed: the transactions in
   * progress and every subtransaction of theirs. Known only when each transaction in progress was still
   * running once they were read (see readUnseen); otherwise absent, and every id from xmin on counts as
   * unseen.
   */
  readonly unseen?: readonly string[] | undefined
}

export interface TargetSince {
  /** `oid:relfilenode` of the target table when the copy committed. */
  readonly relation: string
  readonly signature: string
  /** See RowTextSignature. */
  readonly shape?: string | undefined
  readonly labels?: EnumLabels | undefined
  /** Every transaction id below this one (64-bit) had ended when the copy committed, except the copy's own. */
  readonly below: string
  /** The ids (32-bit) of the copy's transaction and subtransactions that wrote rows. */
  readonly own: readonly string[]
  /** The table's rows when the copy committed. */
  readonly rows: number
}

/**
 * The labels of the enum types a table's columns reach (pg_enum rows: type oid, label oid, label), which
 * the signature covers too: `max` is the highest label oid, `digest` the md5 of them all in oid order.
 */
export interface EnumLabels {
  readonly max: string
  readonly digest: string
}

export interface SyncSince {
  readonly source: SourceSince
  readonly target: TargetSince
}

const digits = z.string().regex(/^\d{1,20}$/)
const enumLabelsSchema = z.object({ max: digits, digest: z.string().regex(/^[0-9a-f]{32}$/) })

/**
 * A recorded position as read back from tablehaul.sync_marks: its numbers go into SQL, so a value of another
 * shape (an older or tampered record) makes the mark unusable instead of failing the table.
 */
const syncSinceSchema = z.object({
  source: z.object({
    system: digits.optional(),
    database: digits.optional(),
    timeline: digits.optional(),
    version: digits.optional(),
    standby: z.boolean().optional(),
    relation: z.string(),
    signature: z.string(),
    shape: z.string().optional(),
    labels: enumLabelsSchema.optional(),
    xmin: digits,
    xmax: digits,
    rowSecurity: z.boolean(),
    namesObjects: z.boolean().optional(),
    deletes: digits.optional(),
    unseen: z.array(digits).max(1000).optional(),
  }),
  target: z.object({
    relation: z.string(),
    signature: z.string(),
    shape: z.string().optional(),
    labels: enumLabelsSchema.optional(),
    below: digits,
    own: z.array(digits).max(1000),
    rows: z.number().int().nonnegative(),
  }),
})

export function parseSince(value: unknown): SyncSince | undefined {
  const parsed = syncSinceSchema.safeParse(value)
  return parsed.success ? parsed.data : undefined
}

/** Transactions between the last copy and now beyond which 32-bit ids are no longer compared. */
const MAX_DISTANCE = 1n << 30n

/** One pg_enum row (of alias e) as the labels' digests take it: type oid, label oid, label. */
const LABEL_ENTRY = `pg_catalog.format('%s:%s:%s', e.enumtypid, e.oid, e.enumlabel)`

/** What signatureSql returns. */
interface SignatureRow {
  readonly signature: string
  readonly shape: string
  readonly labels_max: string | null
  readonly labels_digest: string | null
  readonly labels_before: string | null
  readonly names_objects: boolean
}

/** A signature's parts that a mark records. */
function recorded(row: SignatureRow): Pick<TargetSince, 'signature' | 'shape' | 'labels'> {
  return {
    signature: row.signature,
    shape: row.shape,
    labels:
      row.labels_max !== null && row.labels_digest !== null
        ? { max: row.labels_max, digest: row.labels_digest }
        : undefined,
  }
}

/**
 * Whether rows unwritten since the last copy still read as they did: the same signature, or only enum
 * labels added since (ALTER TYPE … ADD VALUE gives a label a new oid and changes no row's text; a renamed
 * one changes the labels the last copy knew, whose digest `labelsBefore` then differs). A label added with
 * an oid below the last copy's highest (after the oid counter wrapped) reads as a change: the rows are
 * compared, which is never wrong.
 */
function sameRowText(
  before: Pick<TargetSince, 'signature' | 'shape' | 'labels'>,
  now: {
    readonly signature: string
    readonly shape?: string | undefined
    readonly labelsBefore?: string | undefined
  },
): boolean {
  if (before.signature === now.signature) return true
  return (
    before.shape !== undefined &&
    before.labels !== undefined &&
    before.shape === now.shape &&
    before.labels.digest === now.labelsBefore
  )
}

/**
 * The signature of a table's rows' text forms, apart from their values: columns with their types, typmods
 * and collations, the labels of every enum any column's type reaches (through arrays, domains, ranges,
 * multiranges (pg_range.rngmultitypid, read through to_jsonb: the column exists from PostgreSQL 14) and
 * composites), and the versions of the extensions that define those types (an extension update may change
 * how a type prints). Positions (attnum) count too: a column or a composite type's attribute dropped and
 * added again under the same name and type reads as NULL in every row, and no row is written.
 *
 * Each type is looked up by its oid through a LATERAL subquery that OFFSET 0 keeps from being flattened
 * into a join: as a join, the planner may hash pg_type (a sequential scan), and pg_type grows by two rows
 * (the row type and its array) with every table, so a sync of each of n tables read n tables' worth of
 * pg_type: 2,000 tables scanned 4,600 rows per table, three times per table (source, and target twice).
 */
function signatureSql(table: string, labelsUpTo?: string): string {
  const relation = `${quoteLiteral(table)}::pg_catalog.regclass::pg_catalog.oid`
  return `WITH RECURSIVE types(oid) AS (
    SELECT a.atttypid FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = ${relation} AND a.attnum > 0 AND NOT a.attisdropped
    UNION
    SELECT n.oid FROM types tt
     CROSS JOIN LATERAL (SELECT t.oid, t.typelem, t.typbasetype, t.typrelid FROM pg_catalog.pg_type t
                          WHERE t.oid = tt.oid OFFSET 0) AS t
     CROSS JOIN LATERAL (
       SELECT t.typelem UNION ALL SELECT t.typbasetype
       UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
       UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid
       UNION ALL SELECT r.rngtypid FROM pg_catalog.pg_range r
                  WHERE (pg_catalog.to_jsonb(r) ->> 'rngmultitypid'::pg_catalog.text)::pg_catalog.oid = t.oid) AS n(oid)
     WHERE n.oid <> 0::pg_catalog.oid)
  SELECT pg_catalog.md5(pg_catalog.concat_ws(' | ', p.columns, p.attributes, p.labels, p.extensions)) AS signature,
         pg_catalog.md5(pg_catalog.concat_ws(' | ', p.columns, p.attributes, p.enums, p.extensions)) AS shape,
         p.labels_max, p.labels_digest, p.labels_before,
  EXISTS (SELECT 1 FROM types WHERE oid IN (${CATALOG_NAME_TYPES.map((oid) => `${oid}::pg_catalog.oid`).join(', ')})) AS names_objects
  FROM (SELECT
    (SELECT pg_catalog.string_agg(pg_catalog.format('%s %s %s %s %s %s', a.attnum, a.attname, a.atttypid, a.atttypmod, a.attcollation, a.attgenerated), ', ' ORDER BY a.attnum)
       FROM pg_catalog.pg_attribute a WHERE a.attrelid = ${relation} AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
    (SELECT pg_catalog.string_agg(pg_catalog.format('%s.%s %s %s %s %s', t.oid, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attcollation), ', ' ORDER BY t.oid, a.attnum)
       FROM (SELECT DISTINCT oid FROM types) AS tt
      CROSS JOIN LATERAL (SELECT t.oid, t.typrelid FROM pg_catalog.pg_type t WHERE t.oid = tt.oid OFFSET 0) AS t
       JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid
      WHERE a.attnum > 0 AND NOT a.attisdropped) AS attributes,
    (SELECT pg_catalog.string_agg(pg_catalog.format('%s=%s', e.enumtypid, e.enumlabel), ', ' ORDER BY e.enumtypid, e.enumsortorder)
       FROM pg_catalog.pg_enum e WHERE e.enumtypid IN (SELECT oid FROM types)) AS labels,
    (SELECT pg_catalog.string_agg(pg_catalog.format('%s@%s', x.extname, x.extversion), ', ' ORDER BY x.extname)
       FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid
      WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid AND d.objid IN (SELECT oid FROM types) AND d.deptype = 'e') AS extensions,
    (SELECT 'enums '::pg_catalog.text OPERATOR(pg_catalog.||) pg_catalog.string_agg(DISTINCT e.enumtypid::pg_catalog.text, ',')
       FROM pg_catalog.pg_enum e WHERE e.enumtypid IN (SELECT oid FROM types)) AS enums,
    (SELECT pg_catalog.max(e.oid)::pg_catalog.text
       FROM pg_catalog.pg_enum e WHERE e.enumtypid IN (SELECT oid FROM types)) AS labels_max,
    (SELECT pg_catalog.md5(pg_catalog.string_agg(${LABEL_ENTRY}, E'\\n' ORDER BY e.oid))
       FROM pg_catalog.pg_enum e WHERE e.enumtypid IN (SELECT oid FROM types)) AS labels_digest,
    (SELECT pg_catalog.md5(pg_catalog.string_agg(${LABEL_ENTRY}, E'\\n' ORDER BY e.oid))
       FROM pg_catalog.pg_enum e WHERE e.enumtypid IN (SELECT oid FROM types)
        AND ${labelsUpTo === undefined ? 'false' : `e.oid OPERATOR(pg_catalog.<=) ${quoteLiteral(labelsUpTo)}::pg_catalog.oid`}) AS labels_before
  ) AS p`
}

/**
 * regproc, regprocedure, regoper, regoperator, regclass, regtype, regconfig, regdictionary, regnamespace,
 * regrole, regcollation: a value prints the name of a catalog object, so renaming the object changes the
 * row's text without writing the row. Their oids are fixed in every version (pg_type.dat).
 */
const CATALOG_NAME_TYPES = [24, 2202, 2203, 2204, 2205, 2206, 3734, 3769, 4089, 4096, 4191]

/** `oid:relfilenode` of a table: a new relfilenode means TRUNCATE, VACUUM FULL, CLUSTER or a rewrite. */
function relationSql(table: string): string {
  const relation = `${quoteLiteral(table)}::pg_catalog.regclass::pg_catalog.oid`
  return `${relation}::text || ':' || pg_catalog.pg_relation_filenode(${relation})::text`
}

/**
 * The source's part, read in the run's snapshot (txid_current_snapshot() is the imported snapshot there).
 * The txid_* functions exist in every supported version (pg_current_snapshot only from 13). Undefined for
 * a query or a `where:`, whose rows may change without being written.
 */
export async function readSourceSince(
  client: pg.ClientBase,
  plan: TablePlan,
  snapshot: { readonly id: string | undefined; readonly unseen: readonly string[] | undefined },
  previous?: SourceSince,
): Promise<SourceSince | undefined> {
  if (plan.source.kind !== 'table' || plan.source.where) return undefined
  const table = plan.source.table.ref.sql
  const readable = (fn: string) => `pg_catalog.has_function_privilege(${quoteLiteral(fn)}, 'EXECUTE')`
  // A CASE evaluates a sub-select only in the branch taken: a role without the right gets NULL, not an error
  // that would end the run's snapshot transaction.
  const { rows } = await client.query<{
    system: string | null
    timeline: string | null
    version: string
    standby: boolean
    database: string
    relation: string
    xmin: string
    xmax: string
    row_security: boolean
    deletes: string | null
  }>(
    `SELECT ${SYSTEM_IDENTIFIER} AS system,
            CASE WHEN NOT pg_catalog.pg_is_in_recovery() AND ${readable('pg_catalog.pg_walfile_name(pg_catalog.pg_lsn)')}
                 THEN ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int4::text
                 WHEN pg_catalog.pg_is_in_recovery() AND ${readable('pg_catalog.pg_control_checkpoint()')}
                 THEN (SELECT timeline_id::text FROM pg_catalog.pg_control_checkpoint()) END AS timeline,
            (pg_catalog.current_setting('server_version_num')::int4 / 10000)::text AS version,
            pg_catalog.pg_is_in_recovery() AS standby,
            ${DATABASE_OID} AS database,
            ${relationSql(table)} AS relation,
            pg_catalog.txid_snapshot_xmin(pg_catalog.txid_current_snapshot())::text AS xmin,
            pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot())::text AS xmax,
            (SELECT c.relrowsecurity FROM pg_catalog.pg_class c WHERE c.oid = ${quoteLiteral(table)}::pg_catalog.regclass::pg_catalog.oid) AS row_security,
            (SELECT s.n_tup_del::text FROM pg_catalog.pg_stat_all_tables s WHERE s.relid = ${quoteLiteral(table)}::pg_catalog.regclass::pg_catalog.oid) AS deletes`,
  )
  const { rows: signed } = await client.query<SignatureRow>(signatureSql(table, previous?.labels?.max))
  const row = rows[0]!
  // The run's exported snapshot had them read as it was taken; a table read in a snapshot of its own, now.
  const unseen = snapshot.id ? snapshot.unseen : await readUnseen(client)
  return {
    unseen,
    system: row.system ?? undefined,
    timeline: row.timeline ?? undefined,
    version: row.version,
    standby: row.standby,
    database: row.database,
    relation: row.relation,
    ...recorded(signed[0]!),
    labelsBefore: signed[0]!.labels_before ?? undefined,
    namesObjects: signed[0]!.names_objects,
    deletes: row.deletes ?? undefined,
    xmin: row.xmin,
    xmax: row.xmax,
    rowSecurity: row.row_security,
  }
}

/**
 * The transaction ids between the snapshot's xmin and xmax that it did not see committed. The snapshot lists
 * the transactions in progress but not their subtransactions, whose ids lie anywhere above their parent's;
 * a row one of them wrote commits with the parent, after the snapshot. Locks do not name them: a
 * subtransaction's lock on its own id is released when it ends, RELEASE SAVEPOINT or the end of a PL/pgSQL
 * block with an EXCEPTION clause included (xact.c, CommitSubTransaction), while its rows still wait for the
 * parent. The commit log does: until the parent commits, every id of its tree reads as in progress
 * (txid_status), and one of its subtransactions reads as committed only once the parent does (its commit
 * marks the parent before or with the children). So the ids read as in progress after the snapshot are its
 * unseen ones, provided every transaction it lists still reads as in progress afterwards. A transaction
 * that ended in between, a standby (whose commit log trails the primary's), a range too long to read or
 * more than 1,000 ids: undefined, and every id from xmin on counts as unseen.
 */
export async function readUnseen(client: pg.ClientBase): Promise<string[] | undefined> {
  const { rows } = await client.query<{ snapshot: string; standby: boolean }>(
    `SELECT pg_catalog.txid_current_snapshot()::text AS snapshot, pg_catalog.pg_is_in_recovery() AS standby`,
  )
  const { snapshot, standby } = rows[0]!
  if (standby) return undefined
  const [xmin, xmax, list] = snapshot.split(':') as [string, string, string]
  if (BigInt(xmax) - BigInt(xmin) > MAX_STATUS_READS) return undefined
  const { rows: read } = await client.query<{ unseen: string[] | null }>(
    `SELECT pg_catalog.array_agg(x::text) AS unseen
       FROM pg_catalog.generate_series(${BigInt(xmin)}::int8, ${BigInt(xmax) - 1n}::int8) AS x
      WHERE pg_catalog.txid_status(x) = 'in progress'`,
  )
  // After the ids' statuses: a transaction the snapshot saw running that committed before they were read
  // would have had its subtransactions read as committed.
  const running = list ? list.split(',') : []
  if (running.length > 0) {
    const { rows: still } = await client.query<{ ended: string }>(
      `SELECT count(*)::text AS ended FROM pg_catalog.unnest('{${running.join(',')}}'::int8[]) AS x
        WHERE pg_catalog.txid_status(x) IS DISTINCT FROM 'in progress'`,
    )
    if (Number(still[0]!.ended) > 0) return undefined
  }
  const unseen = [...new Set((read[0]!.unseen ?? []).map((xid) => xid32(BigInt(xid))))]
  return unseen.length <= 1000 ? unseen.sort() : undefined
}

/**
 * The most ids between a snapshot's xmin and xmax whose status readUnseen reads: measured 71 ms for 200,000
 * (PostgreSQL 16). A transaction held open longer than that many others leaves every id from xmin on unseen.
 */
const MAX_STATUS_READS = 1_000_000n

/**
 * The target's part, read in the table's transaction just before its COMMIT (the table is locked against
 * other writers: TRUNCATE's ACCESS EXCLUSIVE, or a sync's SHARE ROW EXCLUSIVE). `written` are the ids of
 * the subtransactions that wrote rows; the transaction's own id is added here. The ids of an earlier copy
 * whose rows this one kept are carried on while they are not yet below the new `below`.
 */
export async function readTargetSince(
  client: pg.ClientBase,
  plan: TablePlan,
  written: { readonly xids: readonly string[]; readonly rows: number; readonly kept?: readonly string[] },
): Promise<TargetSince> {
  const table = plan.target.sql
  const { rows } = await client.query<{ relation: string; own: string; snapshot: string }>(
    `SELECT ${relationSql(table)} AS relation, pg_catalog.txid_current()::text AS own,
            pg_catalog.txid_current_snapshot()::text AS snapshot`,
  )
  const { rows: signed } = await client.query<SignatureRow>(signatureSql(table))
  const row = rows[0]!
  // The snapshot's in-progress list leaves out the transaction itself; the oldest other one still running
  // may write later, under an id (or a subtransaction's) above its own.
  const [, xmax, list] = row.snapshot.split(':') as [string, string, string]
  const running = list ? list.split(',').map(BigInt) : []
  const below = running.length ? running.reduce((a, b) => (a < b ? a : b)) : BigInt(xmax)
  const own = new Set([xid32(BigInt(row.own)), ...written.xids])
  for (const xid of written.kept ?? []) if (!precedes(BigInt(xid), xid32(below))) own.add(xid)
  return {
    relation: row.relation,
    ...recorded(signed[0]!),
    below: below.toString(),
    own: [...own].sort(),
    rows: written.rows,
  }
}

/** Whether the 32-bit id `a` comes before `b`, modulo 2^32 as PostgreSQL compares them. */
function precedes(a: bigint, b: string): boolean {
  const difference = (a - BigInt(b)) & 0xffffffffn
  return difference >= 1n << 31n
}

function xid32(xid: bigint): string {
  return (xid & 0xffffffffn).toString()
}

/** The conditions the next sync applies, in SQL over a row alias: rows written since the last copy. */
export interface SinceConditions {
  /** On the source: a row version the last copy's snapshot may not have seen. */
  readonly sourceWritten: (alias: string) => string
  /** On the target: a row version neither the last copy nor an earlier one it kept wrote. */
  readonly targetWritten: (alias: string) => string
  /**
   * The source rows it picks are exactly those written since (the last snapshot's unseen ids were known),
   * not also rows that a transaction in progress then kept the snapshot's xmin below.
   */
  readonly exact: boolean
  /**
   * How many rows the source's statistics count deleted since the last copy, where they can tell (they are
   * not kept by a standby, nor across a statistics reset): only a prediction, which decides how the sync
   * looks for deletes, never whether it does.
   */
  readonly deletes?: number | undefined
}

/**
 * Whether the last copy's mark lets this run read only what was written since; the reason it does not
 * otherwise (for the table's notes). `target` is checked later, inside the table's transaction.
 */
export function sinceConditions(
  previous: SyncSince | undefined,
  now: SourceSince | undefined,
): SinceConditions | string {
  if (!previous) return 'no earlier copy recorded where it stopped'
  if (!now) return 'the table is read with a where: filter'
  const before = previous.source
  if (now.rowSecurity) return 'row level security applies to the source table'
  if (now.namesObjects)
    return 'a column holds catalog names (regclass, regtype, …), which a rename changes without writing the row'
  // Without it, another server with the same database and table ids could pass for the same one.
  if (now.system === undefined)
    return "the source's system identifier cannot be read (EXECUTE on pg_control_system())"
  if (before.system !== now.system) return 'the source is another server than at the last copy'
  if (before.version === undefined)
    return "the last copy did not record the source's version (an older tablehaul)"
  if (before.version !== now.version)
    return 'the source was upgraded to another major version since the last copy'
  if ((before.timeline ?? '') !== (now.timeline ?? ''))
    return 'the source switched timelines since the last copy (a restore or a promotion)'
  if (before.database !== now.database) return 'the source is another database than at the last copy'
  if (before.relation !== now.relation)
    return 'the source table was re-created, truncated or rewritten since the last copy'
  if (!sameRowText(before, now))
    return "the source table's columns, types or enum labels changed since the last copy"
  // Before the ids-went-back check: a standby's snapshot stops at the last commit it replayed, so one that
  // lags behind the last copy's (a primary's, or a standby's further ahead) has a lower xmax without any
  // restore; the note then names the lag, not a restore.
  if ((before.standby || now.standby) && BigInt(now.xmin) < BigInt(before.xmax))
    return "the source is a standby whose snapshot may not yet include all that the last copy's saw"
  if (BigInt(now.xmax) < BigInt(before.xmax))
    return "the source's transaction ids went back since the last copy (a restore?)"
  if (BigInt(now.xmax) - BigInt(before.xmin) >= MAX_DISTANCE)
    return 'over a billion transactions ran on the source since the last copy'
  const sourceMark = `${quoteLiteral(xid32(BigInt(before.xmin)))}::pg_catalog.xid`
  // With the unseen ids known, an id between the snapshot's xmin and xmax that is not one of them had
  // committed (or aborted) before it: only ids from xmax on, and the unseen, are writes since.
  const seenBelow = before.unseen
    ? {
        mark: `${quoteLiteral(xid32(BigInt(before.xmax)))}::pg_catalog.xid`,
        unseen: `${quoteLiteral(`{${before.unseen.join(',')}}`)}::pg_catalog.xid[]`,
      }
    : undefined
  const targetMark = `${quoteLiteral(xid32(BigInt(previous.target.below)))}::pg_catalog.xid`
  const own = `${quoteLiteral(`{${previous.target.own.join(',')}}`)}::pg_catalog.xid[]`
  const deletes =
    before.deletes !== undefined && now.deletes !== undefined
      ? Number(BigInt(now.deletes) - BigInt(before.deletes))
      : undefined
  return {
    exact: seenBelow !== undefined,
    deletes: deletes !== undefined && deletes >= 0 ? deletes : undefined,
    // age() counts back from one id fixed for the whole transaction, so comparing two ages compares the ids.
    // A visible row's age is at least 1; a negative one is a frozen row's raw xmin over 2^31 ids old.
    sourceWritten: (alias) =>
      seenBelow
        ? `(pg_catalog.age(${alias}.xmin) BETWEEN 0 AND pg_catalog.age(${seenBelow.mark}) OR (pg_catalog.age(${alias}.xmin) BETWEEN 0 AND pg_catalog.age(${sourceMark}) AND ${alias}.xmin = ANY (${seenBelow.unseen})))`
        : `pg_catalog.age(${alias}.xmin) BETWEEN 0 AND pg_catalog.age(${sourceMark})`,
    targetWritten: (alias) =>
      `(pg_catalog.age(${alias}.xmin) BETWEEN 0 AND pg_catalog.age(${targetMark}) AND NOT ${alias}.xmin = ANY (${own}))`,
  }
}

/**
 * The target's side of the check, inside the table's transaction: the same table, signature and ids still
 * comparable. Returns the reason it is not usable, or undefined.
 */
export async function targetSinceProblem(
  client: pg.ClientBase,
  plan: TablePlan,
  previous: TargetSince,
): Promise<string | undefined> {
  const table = plan.target.sql
  const { rows } = await client.query<{ relation: string; next: string }>(
    `SELECT ${relationSql(table)} AS relation, pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot())::text AS next`,
  )
  const { rows: signed } = await client.query<SignatureRow>(signatureSql(table, previous.labels?.max))
  if (rows[0]!.relation !== previous.relation)
    return 'the target table was re-created, truncated or rewritten since the last copy'
  const now = signed[0]!
  if (!sameRowText(previous, { ...now, labelsBefore: now.labels_before ?? undefined }))
    return "the target table's columns, types or enum labels changed since the last copy"
  const distance = BigInt(rows[0]!.next) - BigInt(previous.below)
  if (distance < 0n) return "the target's transaction ids went back since the last copy (a restore?)"
  if (distance >= MAX_DISTANCE) return 'over a billion transactions ran on the target since the last copy'
  return undefined
}

/** A source server and database, as a mark's `since.source` records them (system identifier, database oid). */
export interface SourceIdentity {
  readonly system: string | undefined
  readonly database: string | undefined
}

// A CASE evaluates a sub-select only in the branch taken: a role without the right gets NULL, not an error
// that would end the run's snapshot transaction.
const SYSTEM_IDENTIFIER = `CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
                 THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) END`
const DATABASE_OID = `(SELECT d.oid::text FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())`

/**
 * The source's server and database as readSourceSince records them in a mark: the system identifier (where
 * the role may read it) and the database's oid.
 */
export async function readSourceIdentity(client: pg.ClientBase): Promise<SourceIdentity> {
  const { rows } = await client.query<{ system: string | null; database: string | null }>(
    `SELECT ${SYSTEM_IDENTIFIER} AS system, ${DATABASE_OID} AS database`,
  )
  return { system: rows[0]?.system ?? undefined, database: rows[0]?.database ?? undefined }
}
