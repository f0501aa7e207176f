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

/** What an advice may name: the side the error came from. */
export interface AdviceContext {
  readonly side?: 'source' | 'target' | undefined
}

interface Advice {
  readonly sqlState: string
  readonly in: readonly Situation[]
  readonly message?: RegExp
  readonly advice: string | ((context: AdviceContext) => string)
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
    sqlState: '53300',
    in: ['connect'],
    advice: 'the server has no free connection slots; lower jobs or raise max_connections',
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
    // An enum label the source's type gained (or renamed) since the target's type was created: mode
    // recreate re-creates the table, not the types it uses.
    sqlState: '22P02',
    in: ['copy'],
    message: /invalid input value for enum/,
    advice:
      "the target's enum type lacks a label the source's has (added or renamed there since the target's type was created): add it on the target (ALTER TYPE … ADD VALUE or RENAME VALUE); mode: recreate re-creates the table but not its types",
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
    in: ['copy', 'import'],
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
    advice: ({ side }) =>
      `a sort or hash on the ${side ?? 'target'} spilled more temporary files than its temp_file_limit allows: raise it for the run's user there (ALTER ROLE … SET temp_file_limit, or in postgresql.conf), or give the where: or query: an index that spares the sort, then run again`,
  },
]

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
      (!advice.message || advice.message.test(messageOf(error))),
  )
  if (!entry) return undefined
  return typeof entry.advice === 'string' ? entry.advice : entry.advice(context)
}
