/**
 * Every error tablehaul raises on purpose. The code is what programs (and the exit code) rely on; the
 * message is for people: what failed, where, and what to do next.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'the configuration (file, environment or flags) is invalid',
  USAGE_INVALID: 'the command line (or a call of the library) is invalid',
  SOURCE_UNREACHABLE: 'the source server cannot be reached or refused the login',
  TARGET_UNREACHABLE: 'the target server cannot be reached or refused the login',
  TABLE_NOT_FOUND: 'a table named in the configuration does not exist on the source',
  TABLE_INCOMPATIBLE: 'an existing target table does not match the source table',
  TABLE_LOCKED: 'another session locks a table, and the run did not wait for it',
  PRIVILEGE_MISSING: 'a privilege the run needs is missing',
  ROLE_MISSING: 'owners: keep or privileges: keep names a role that does not exist on the target',
  TARGET_READ_ONLY:
    'the target refuses writes (a standby, default_transaction_read_only) or its COMMITs never end',
  TARGET_UNTRUSTED: "tablehaul's records on the target are in objects another role controls",
  SCHEMA_FAILED: 'creating the target schema objects failed',
  TABLE_COPY_FAILED: 'copying a table failed',
  ROW_COUNT_MISMATCH: 'the target received a different number of rows than the source sent',
  CHECKSUM_MISMATCH: "the table's fingerprint on the target differs from the source's (verify: checksum)",
  COPY_STALLED: 'no bytes moved for longer than the stall timeout',
  COMMIT_OUTCOME_UNKNOWN: 'the connection was lost during a COMMIT, and whether it took effect is unknown',
  SERVER_NO_REPLY: 'a server did not reply within the statement timeout',
  SERVER_LIMIT:
    'a server ran out of a resource (disk, memory, connection slots, its lock table) or reached one of its limits',
  LOCK_CONFLICT:
    "another session's lock or transaction stopped a statement (lock timeout, deadlock, serialization failure)",
  SNAPSHOT_FAILED: 'the shared source snapshot could not be used',
  RUN_LOCKED: 'another run is already writing into the same target',
  RUN_ABORTED: 'the run was interrupted',
  RUN_DEADLINE: 'the run exceeded its deadline',
  CSV_INVALID: 'a CSV file could not be read or does not fit the table',
  FILE_FAILED: 'a file could not be read or written',
  LOCAL_SERVER_FAILED: 'the embedded local PostgreSQL could not be started or stopped',
  NOTIFY_FAILED: 'the run report could not be sent',
  INTERNAL: 'an unexpected internal error',
} as const

/** One of the codes of `ERROR_CODES`. */
export type ErrorCode = keyof typeof ERROR_CODES

/** The optional parts of a `TablehaulError`. */
export interface TablehaulErrorOptions {
  readonly cause?: unknown
  /** What the user should do about it; shown after the message. */
  readonly hint?: string
  /** The table the error is about, as `schema.table`. */
  readonly table?: string
}

/** The one error class of the library; the original error is kept as `cause`. */
export class TablehaulError extends Error {
  readonly code: ErrorCode
  readonly hint: string | undefined
  readonly table: string | undefined

  constructor(code: ErrorCode, message: string, options: TablehaulErrorOptions = {}) {
    cutCauses(options.cause)
    super(cutText(message, MESSAGE_LIMIT), options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'TablehaulError'
    this.code = code
    this.hint = options.hint === undefined ? undefined : cutText(options.hint, MESSAGE_LIMIT)
    this.table = options.table
  }

  /** The SQLSTATE of the PostgreSQL error behind this one, if any. */
  get sqlState(): string | undefined {
    return sqlStateOf(this.cause)
  }

  /** Message, SQLSTATE and hint in one line, as logs and e-mails show it. */
  describe(): string {
    return describeError(this)
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      sqlState: this.sqlState,
      hint: this.hint,
      table: this.table,
    }
  }
}

/** What people are shown of an error: a TablehaulError, or the plain data reports carry (`ErrorInfo`). */
export interface DescribedError {
  readonly message: string
  readonly sqlState?: string | undefined
  readonly hint?: string | undefined
}

/** `message (SQLSTATE x); what to do`: an error on one line, as logs, summaries and e-mails show it. */
export function describeError(error: DescribedError): string {
  const message = withSqlState(error.message, error.sqlState)
  return error.hint ? `${message}; ${error.hint}` : message
}

/** `message (SQLSTATE 28P01)`; the message as it is when it names its SQLSTATE already. */
export function withSqlState(message: string, sqlState: string | undefined): string {
  return sqlState && !message.includes(sqlState) ? `${message}${sqlStateSuffix(sqlState)}` : message
}

/** The message without the `(SQLSTATE x)` it may carry, for where the SQLSTATE is shown on its own. */
export function withoutSqlState(message: string, sqlState: string | undefined): string {
  return sqlState ? message.replace(sqlStateSuffix(sqlState), '') : message
}

function sqlStateSuffix(sqlState: string): string {
  return ` (SQLSTATE ${sqlState})`
}

/**
 * The SQLSTATE of a node-postgres `DatabaseError` found in an error or its causes. Every SQLSTATE has a
 * digit in it; five capitals are another library's code (nodemailer's EAUTH), not PostgreSQL's.
 */
export function sqlStateOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 8; depth++) {
    if (
      typeof e === 'object' &&
      'code' in e &&
      typeof e.code === 'string' &&
      /^[0-9A-Z]{5}$/.test(e.code) &&
      /\d/.test(e.code)
    ) {
      return e.code
    }
    e = typeof e === 'object' && e !== null && 'cause' in e ? (e as { cause: unknown }).cause : undefined
  }
  return undefined
}

/** The network error code (ECONNRESET, ETIMEDOUT, …) found in an error or its causes. */
export function systemErrorCodeOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 8; depth++) {
    if (typeof e === 'object' && 'code' in e && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) {
      return e.code
    }
    e = typeof e === 'object' && e !== null && 'cause' in e ? (e as { cause: unknown }).cause : undefined
  }
  return undefined
}

const LOST_ON = Symbol('tablehaul.connectionLostOn')
const SERVER_SIDE = Symbol('tablehaul.serverSide')

/** Sets `mark` on a server's error once; a TablehaulError says its own side, a frozen foreign one stays as it is. */
function markSide(error: unknown, mark: symbol, side: 'source' | 'target'): void {
  if (typeof error !== 'object' || error === null || error instanceof TablehaulError || mark in error) return
  try {
    Object.defineProperty(error, mark, { value: side })
  } catch {
    // A frozen foreign error stays unmarked: it is reported as it is.
  }
}

/**
 * Marks a server's error as the loss of a connection to `side` (set by the connection that saw it), so
 * that wherever it surfaces unclassified it still says which server went away.
 */
export function markConnectionLost(error: unknown, side: 'source' | 'target'): void {
  markSide(error, LOST_ON, side)
}

/** The side whose connection `error` lost (markConnectionLost), if it is such an error. */
export function connectionLostOn(error: unknown): 'source' | 'target' | undefined {
  if (typeof error !== 'object' || error === null || !(LOST_ON in error)) return undefined
  return (error as { [LOST_ON]: 'source' | 'target' })[LOST_ON]
}

/**
 * Marks a server's error with the side whose statement raised it (set by the connection that saw it), so
 * that an error that escapes unclassified (a catalog read, a step after the data) can still name the
 * server whose resources or locks it is about.
 */
export function markServerSide(error: unknown, side: 'source' | 'target'): void {
  markSide(error, SERVER_SIDE, side)
}

/** The side whose statement raised `error` (markServerSide), looking through its causes. */
export function serverSideOf(error: unknown): 'source' | 'target' | undefined {
  for (let e = error, depth = 0; e && depth < 8; depth++) {
    if (typeof e === 'object' && SERVER_SIDE in e)
      return (e as { [SERVER_SIDE]: 'source' | 'target' })[SERVER_SIDE]
    e = typeof e === 'object' && e !== null && 'cause' in e ? (e as { cause: unknown }).cause : undefined
  }
  return undefined
}

/** Whether `error` is a `TablehaulError` (with the given code, if one is given). */
export function isTablehaulError(error: unknown, code?: ErrorCode): error is TablehaulError {
  return error instanceof TablehaulError && (code === undefined || error.code === code)
}

/** A readable one-line message for any thrown value, cut to `DATA_TEXT_LIMIT` where it may quote data. */
export function messageOf(error: unknown): string {
  if (error instanceof TablehaulError) return error.describe()
  if (error instanceof Error) {
    return withSqlState(cutText(error.message || error.name), sqlStateOf(error))
  }
  return cutText(String(error))
}

/**
 * How much of a text that may quote data an error keeps: a server's message, detail and context
 * ("invalid input syntax for type integer: "<the value>"", "COPY t, line 3, column id: "<the value>"") or
 * any foreign error's message. A bad value can be megabytes; its error goes into memory, the log, the
 * e-mail and the terminal, each of which must stay small.
 */
export const DATA_TEXT_LIMIT = 300

/**
 * The longest message or hint of a TablehaulError: room for lists of names and problems, while a text that
 * quotes data was cut to DATA_TEXT_LIMIT before it got there.
 */
const MESSAGE_LIMIT = 4000

/** `text` cut to `limit` characters, saying how much was cut: `abc… (12345 bytes cut)`. */
export function cutText(text: string, limit = DATA_TEXT_LIMIT): string {
  if (text.length <= limit) return text
  // Not inside a surrogate pair, so the kept part stays valid UTF-16.
  let end = limit
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return `${text.slice(0, end)}… (${Buffer.byteLength(text) - Buffer.byteLength(text.slice(0, end))} bytes cut)`
}

/** The fields of a node-postgres DatabaseError that the server fills with text that can quote data. */
const DATA_FIELDS = ['message', 'detail', 'where', 'hint', 'internalQuery'] as const

/**
 * Cuts, in place, the data-quoting texts of the errors in a cause chain: a TablehaulError keeps its cause,
 * and a cause that kept a 40 MB value in its message and context would keep it for the whole run.
 */
function cutCauses(cause: unknown): void {
  for (let e = cause, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    if (e instanceof TablehaulError) return
    const fields = e as Record<string, unknown>
    for (const field of DATA_FIELDS) {
      const value = fields[field]
      if (typeof value === 'string' && value.length > DATA_TEXT_LIMIT) {
        try {
          fields[field] = cutText(value)
        } catch {
          // A read-only field of some foreign error: it stays, and messageOf cuts what is shown of it.
        }
      }
    }
    e = 'cause' in e ? (e as { cause: unknown }).cause : undefined
  }
}
