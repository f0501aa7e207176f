import { messageOf, sqlStateOf } from '../errors.js'

/**
 * What to do about the PostgreSQL errors tablehaul meets most often, in one table: the hint a user reads
 * under an error comes from here wherever the error came up. An entry names an SQLSTATE (five characters)
 * or its class (the first two), the situations it applies to, and, where one SQLSTATE means different
 * things, a pattern its message must match. The first matching entry wins.
 */
export type Situation =
  /** Opening a connection (a login, a database name, connection slots). */
  | 'connect'
  /** Copying a table's rows, from the source or into the target. */
  | 'copy'
  /** Loading a CSV file into a target table. */
  | 'import'
  /**
   * Any other statement of a run: the plan's catalog reads, the schema step, the views, foreign keys and
   * other objects, verify, the run's records. Only errors about the servers' resources, limits, locks and
   * sessions have advice here: what else goes wrong there is the step's own to explain.
   */
  | 'run'

/** What an advice may name or depend on: the side the error came from, the table's mode. */
export interface AdviceContext {
  readonly side?: 'source' | 'target' | undefined
  readonly mode?: string | undefined
}

interface Advice {
  readonly sqlState: string
  readonly in: readonly Situation[]
  readonly message?: RegExp
  /** Where the same error means something else in another context. */
  readonly when?: (context: AdviceContext) => boolean
  readonly advice: string | ((context: AdviceContext) => string)
}

const EVERYWHERE: readonly Situation[] = ['connect', 'copy', 'import', 'run']

/** `the source` or `the target`, or `the server` where the side is not known. */
function sideName({ side }: AdviceContext): string {
  return side ? `the ${side}` : 'the server'
}

const ADVICE: readonly Advice[] = [
  {
    sqlState: '28P01',
    in: ['connect'],
    advice: ({ side }) => `check the user and password (${side}.password, the URL, PGPASSWORD or ~/.pgpass)`,
  },
  {
    sqlState: '28000',
    in: ['connect'],
    advice: ({ side }) => `check the user and password (${side}.password, the URL, PGPASSWORD or ~/.pgpass)`,
  },
  {
    sqlState: '3D000',
    in: ['connect'],
    advice: ({ side }) => `check the database name at the end of the ${side} URL`,
  },
  {
    // too_many_connections is also what a role's or a database's own CONNECTION LIMIT raises.
    sqlState: '53300',
    in: EVERYWHERE,
    message: /too many connections for role/,
    advice: (context) =>
      `the role's connection limit on ${sideName(context)} is reached (ALTER ROLE … CONNECTION LIMIT): a run opens a few connections to each server, more the higher jobs is; lower jobs, end the role's other sessions there, or raise its limit`,
  },
  {
    sqlState: '53300',
    in: EVERYWHERE,
    message: /too many connections for database/,
    advice: (context) =>
      `the database's connection limit on ${sideName(context)} is reached (ALTER DATABASE … CONNECTION LIMIT): a run opens a few connections to each server, more the higher jobs is; lower jobs, end other sessions of that database, or raise its limit`,
  },
  {
    sqlState: '53300',
    in: EVERYWHERE,
    advice: (context) =>
      `${sideName(context)} server has no free connection slots (max_connections, less those reserved for superusers); lower jobs, end idle sessions there, or raise max_connections (a restart)`,
  },
  {
    // A new session writes the relation cache's init file (pg_internal.init) into its database's folder
    // when there is none: a full disk there refuses the login itself.
    sqlState: '53100',
    in: ['connect'],
    advice: ({ side }) =>
      `the ${side} server's disk is full where this database lives (its tablespace, or the data directory), and it refuses new sessions: free space there, then run again`,
  },
  {
    sqlState: '55P03',
    in: ['copy'],
    advice: 'another session holds a lock on the target table; retry when it is done, or raise timeouts.lock',
  },
  {
    sqlState: '55P03',
    in: ['import'],
    advice: 'another session holds a lock on the table; retry when it is done, or raise timeouts.lock',
  },
  {
    // TRUNCATE of a table that another table's foreign key references
    sqlState: '0A000',
    in: ['import'],
    message: /truncate/i,
    advice:
      'PostgreSQL cannot empty a table that a foreign key of another table references: use --mode append when the file holds only new rows, or empty both tables yourself (TRUNCATE this one and the referencing one together) and import each file with --mode append',
  },
  {
    sqlState: '42501',
    in: ['copy'],
    advice: 'the user lacks a privilege on that table; grant it or leave the table out',
  },
  {
    // COPY into a partition checks its partition constraint. A hash partition's is computed from the type's
    // hash function, and an enum's hashes its label's oid, which each database assigns on its own: the same
    // row belongs in another partition on the target (pg_dump has --load-via-partition-root for it).
    sqlState: '23514',
    in: ['copy'],
    message: /violates partition constraint/,
    advice:
      "a source row belongs in another partition on the target: the target's partitions have other bounds than the source's (re-create them as the source's), or the table is hash-partitioned on an enum (or a type holding one), which PostgreSQL hashes by its label's oid, different in every database, so such a table cannot be copied partition by partition; leave its partitions out (exclude:) and copy it through its partitioned table (pg_dump --load-via-partition-root)",
  },
  {
    // CREATE TABLE … PARTITION OF checks that the default partition holds no row of the new bound. The
    // source moved those rows out of its default partition when it made the new one; the target's keeps
    // them until a copy of the default partition takes them out.
    sqlState: '23514',
    in: ['run'],
    message: /default partition/,
    advice:
      "the target's default partition still holds rows of this partition's range, which the source moved out of its own when it made this partition: a run that copies the default partition takes them out (this run did, if it selects it), then run again (--resume) to create this one; where no run copies the default partition, move those rows out of it on the target yourself",
  },
  {
    // An append adds rows to those the table holds: a key it already has comes again (a where: that overlaps
    // what earlier runs appended), not a broken target.
    sqlState: '23505',
    in: ['copy'],
    when: ({ mode, side }) => mode === 'append' && side === 'target',
    advice:
      'the target table already has rows with some of these keys (appended by an earlier run?): narrow where: to rows not copied yet, or use mode: sync, which writes only the rows that differ',
  },
  {
    sqlState: '23',
    in: ['copy'],
    advice:
      'the target table has a constraint the source rows violate; fix the target table or use mode: recreate',
  },
  {
    // The run's columns come from the catalog as its snapshot saw it; the table is read as it is now.
    sqlState: '42703',
    in: ['copy'],
    advice:
      'a column the run reads is gone (dropped or renamed on the source after the run took its snapshot?): run again; if it repeats, check the where: of the table in the config',
  },
  {
    // An enum label the source's type gained (or renamed) since the target's type was created, that the
    // run could not add (SchemaBuilder.addEnumLabels): mode recreate re-creates the table, not its types.
    sqlState: '22P02',
    in: ['copy'],
    message: /invalid input value for enum/,
    advice:
      "the target's enum type lacks a label the source's has (added or renamed there since the target's type was created), and the run could not add it: the target's type has labels of its own or in another order, belongs to another role, or schema: none forbids changing it; add or rename it on the target (ALTER TYPE … ADD VALUE or RENAME VALUE); mode: recreate re-creates the table but not its types",
  },
  {
    sqlState: '22P02',
    in: ['copy'],
    message: /malformed record literal/,
    advice:
      "the target's composite type has other attributes than the source's (one added or dropped there since the target's type was created): change it on the target to match (ALTER TYPE … ADD ATTRIBUTE or DROP ATTRIBUTE); mode: recreate re-creates the table but not its types",
  },
  {
    sqlState: '22',
    in: ['copy'],
    advice: 'a source value does not fit the target column; fix the target column type or use mode: recreate',
  },
  {
    sqlState: '08',
    in: ['copy'],
    advice: 'the connection was lost; run again (use --resume to skip tables already copied)',
  },
  {
    sqlState: '57P',
    in: ['copy'],
    advice: 'the connection was lost; run again (use --resume to skip tables already copied)',
  },
  {
    // No room for the write-ahead log: PostgreSQL PANICs (the client still gets the 53100 it was sent),
    // every session of the server ends, and crash recovery fails the same way until pg_wal has room.
    sqlState: '53100',
    in: ['copy', 'import', 'run'],
    message: /"pg_wal\//,
    advice: ({ side }) =>
      `the ${side ?? 'target'} server's write-ahead log (pg_wal) ran out of disk space: PostgreSQL stopped (PANIC) and does not start again until it has room; free space on the disk of its pg_wal, start the server if it is down, then run again`,
  },
  {
    // disk_full: no room for a file the statement writes. On the source that is a temporary file (a sort
    // or hash of a query: or where: spilling out of work_mem, in temp_tablespaces or base/pgsql_tmp); on
    // the target a table's file too: until COMMIT a replace writes the new rows beside the old (TRUNCATE
    // in a transaction keeps the old file for a rollback), and a sync adds new row versions and temporary
    // tables of the changed rows.
    sqlState: '53100',
    in: ['copy', 'import'],
    advice: ({ side }) =>
      side === 'source'
        ? 'the source server ran out of disk space for the temporary files of a sort or hash (the file named above): free space there, or set temp_tablespaces to a disk with room, then run again'
        : `the ${side ?? 'target'} server ran out of disk space where the file named above lives (pg_tblspc/<oid>/… is a tablespace, base/… the database's default one): free space there, then run again; until it commits, a replace needs room for the table's new rows beside its old ones, and a sync for the changed rows (in temporary tables, t<n>_… files, under temp_tablespaces when set) and their new versions`,
  },
  {
    // temp_file_limit: a session's temporary files (sorts, hashes) reached the limit its server sets.
    sqlState: '53400',
    in: ['copy', 'import'],
    message: /temp_file_limit/,
    advice: ({ side }) =>
      `a sort or hash on the ${side ?? 'target'} spilled more temporary files than its temp_file_limit allows: raise it for the run's user there (ALTER ROLE … SET temp_file_limit, or in postgresql.conf), or give the where: or query: an index that spares the sort, then run again`,
  },
  {
    // Outside a copy the statement is tablehaul's own (a catalog read, a view's creation): only the
    // server's settings can make room for it.
    sqlState: '53400',
    in: ['connect', 'run'],
    message: /temp_file_limit/,
    advice: (context) =>
      `a statement of the run sorted or hashed more than work_mem on ${sideName(context)}, and its temporary files exceeded temp_file_limit: raise temp_file_limit or work_mem for the run's user there (ALTER ROLE … SET …, or in postgresql.conf), then run again`,
  },
  {
    sqlState: '53400',
    in: EVERYWHERE,
    advice: (context) =>
      `${sideName(context)} server reached a limit its configuration sets (named above): raise it there, then run again`,
  },
  {
    // out of shared memory: the lock table (max_locks_per_transaction × (max_connections +
    // max_prepared_transactions) slots, shared by all sessions) is full. A transaction keeps each lock until
    // it ends, one per table, index, view or constraint it creates, drops or reads.
    sqlState: '53200',
    in: EVERYWHERE,
    message: /shared memory/,
    advice: (context) =>
      `${sideName(context)} server's lock table is full: a transaction keeps a lock on each table, index, view or key it touches until it ends, and the server has room for max_locks_per_transaction × (max_connections + max_prepared_transactions) of them in all; raise max_locks_per_transaction there (a restart), or end the sessions holding many locks, then run again`,
  },
  {
    sqlState: '53200',
    in: EVERYWHERE,
    advice: (context) =>
      `${sideName(context)} server ran out of memory: lower jobs (each table's copy sorts and hashes on its own), lower work_mem or maintenance_work_mem for the run's user there (ALTER ROLE … SET …), or give the server more memory, then run again`,
  },
  {
    sqlState: '53100',
    in: ['run'],
    advice: (context) =>
      `${sideName(context)} server's disk is full where the file named above lives: free space there, then run again`,
  },
  {
    sqlState: '53',
    in: EVERYWHERE,
    advice: (context) =>
      `${sideName(context)} server ran out of a resource (its log says which): free it there, then run again`,
  },
  {
    sqlState: '54001',
    in: EVERYWHERE,
    advice: (context) =>
      `a statement recursed deeper than max_stack_depth allows on ${sideName(context)}: raise it there (up to the operating system's stack limit), then run again`,
  },
  {
    // program_limit_exceeded: a limit compiled into PostgreSQL (columns per table, an index row's size, a
    // statement's complexity); the same statement fails the same way again.
    sqlState: '54',
    in: EVERYWHERE,
    advice: (context) =>
      `the statement exceeds a limit built into PostgreSQL on ${sideName(context)} (too many columns, an index entry or row too large, a statement too complex): running again does not help; change the object named above, or leave it out with exclude:`,
  },
  {
    sqlState: '57P01',
    in: ['connect', 'run'],
    advice: (context) =>
      `an administrator (pg_terminate_backend) or a shutdown of ${sideName(context)} server ended the session: check that it accepts connections, then run again (--resume skips the tables already copied)`,
  },
  {
    sqlState: '57P02',
    in: ['connect', 'run'],
    advice: (context) =>
      `${sideName(context)} server restarted after another session crashed, ending every session (its log says why): once it accepts connections, run again (--resume skips the tables already copied)`,
  },
  {
    sqlState: '57P03',
    in: ['connect', 'run'],
    advice: (context) =>
      `${sideName(context)} server is starting, shutting down or recovering, and accepts no sessions yet: wait until it does (pg_isready), then run again`,
  },
  {
    sqlState: '57P',
    in: ['connect', 'run'],
    advice: (context) => `${sideName(context)} server ended the session: run again`,
  },
  {
    sqlState: '55P03',
    in: ['connect', 'run'],
    advice: (context) =>
      `another session holds a lock this step needs on ${sideName(context)}, and the wait ended at timeouts.lock: see which there (pg_locks joined to pg_stat_activity), run again once it is done, or raise timeouts.lock`,
  },
  {
    // A hot standby cancels a query whose snapshot or locks hold back the WAL it replays.
    sqlState: '40001',
    in: EVERYWHERE,
    message: /conflict with recovery/,
    advice: (context) =>
      `${sideName(context)} is a standby and cancelled the statement to apply changes from its primary: set hot_standby_feedback = on or raise max_standby_streaming_delay there, or read from the primary; then run again`,
  },
  {
    sqlState: '40001',
    in: EVERYWHERE,
    advice: (context) =>
      `a concurrent transaction on ${sideName(context)} conflicted with this one (serialization failure): run again`,
  },
  {
    sqlState: '40P01',
    in: EVERYWHERE,
    advice: (context) =>
      `a deadlock with another session on ${sideName(context)}: PostgreSQL ended this statement to break it (its log names the other one); run again (--resume skips the tables already copied)`,
  },
]

/**
 * The code of an error about a server's resources, limits or locks (the SQLSTATEs the run-wide advice
 * covers): SERVER_LIMIT, LOCK_CONFLICT, or undefined for any other error.
 */
export function resourceCodeOf(error: unknown): 'SERVER_LIMIT' | 'LOCK_CONFLICT' | undefined {
  const state = sqlStateOf(error)
  if (!state) return undefined
  if (state.startsWith('53') || state.startsWith('54')) return 'SERVER_LIMIT'
  if (state === '55P03' || state === '40001' || state === '40P01') return 'LOCK_CONFLICT'
  return undefined
}

/**
 * A server's message, with what to do when it is about the server's resources, limits, locks or
 * sessions: the reason of an object (a view, a foreign key, an index) that could not be created.
 */
export function reasonOf(error: unknown, side: 'source' | 'target'): string {
  const advice = adviceFor(error, 'run', { side })
  return advice ? `${messageOf(error)}: ${advice}` : messageOf(error)
}

/** The advice for `error`'s SQLSTATE in `situation`; undefined when the table has none. */
export function adviceFor(
  error: unknown,
  situation: Situation,
  context: AdviceContext = {},
): string | undefined {
  const state = sqlStateOf(error)
  if (!state) return undefined
  const entry = ADVICE.find(
    (advice) =>
      state.startsWith(advice.sqlState) &&
      advice.in.includes(situation) &&
      (!advice.message || advice.message.test(messageOf(error))) &&
      (!advice.when || advice.when(context)),
  )
  if (!entry) return undefined
  return typeof entry.advice === 'string' ? entry.advice : entry.advice(context)
}
