import { adviceFor, resourceCodeOf } from '../db/sql-state-advice.js'
import {
  type ErrorCode,
  TablehaulError,
  connectionLostOn,
  messageOf,
  serverSideOf,
  sqlStateOf,
} from '../errors.js'

/** An error as reports, logs and e-mails carry it: plain data, never a password. */
export interface ErrorInfo {
  readonly code: ErrorCode
  readonly message: string
  readonly sqlState?: string | undefined
  /** What to do about it. */
  readonly hint?: string | undefined
}

/** copied: committed on the target; failed: kept its previous contents; skipped: not attempted (`skipped` says why). */
export type TableStatus = 'copied' | 'failed' | 'skipped'

/**
 * Why a table was skipped. already-copied: an earlier run of the same job committed it and this run
 * resumes that one (`tablehaul run --resume`); not-started: the run was stopped, or failed, before it
 * (it kept its previous contents).
 */
export type SkipReason = 'already-copied' | 'not-started'

/** The outcome of one table. The same fields for every status, so reports need no special cases. */
export interface TableResult {
  /** The target table, `schema.table`. */
  readonly table: string
  /** Where the rows came from: the source table, or `query` for a query entry. */
  readonly source: string
  readonly status: TableStatus
  /**
   * Rows committed on the target (0 unless copied; for a failed table, what its old contents kept is not
   * counted). For a table already copied by the run this one resumes: the rows that run committed.
   */
  readonly rows: number
  /** Bytes of COPY data that moved (for a table already copied: that moved in the earlier run). */
  readonly bytes: number
  readonly durationMs: number
  readonly mode: 'replace' | 'append' | 'recreate' | 'sync'
  /** mode sync: the rows it wrote and the rows it left alone (absent when the table was copied in full). */
  readonly sync?: SyncSummary | undefined
  /**
   * mode: sync: which rows it compared: `written`, only those written since the last copy (the position
   * that copy recorded was usable), or `all`, by the fingerprints of every row.
   */
  readonly syncCompared?: 'written' | 'all' | undefined
  /** verify: checksum found the table's fingerprint the same on both sides before its COMMIT. */
  readonly verified?: boolean | undefined
  /** The COPY format used. */
  readonly format: 'text' | 'binary'
  /** The table did not exist on the target and was created by this run. */
  readonly created: boolean
  readonly attempts: number
  readonly startedAt?: string | undefined
  readonly error?: ErrorInfo | undefined
  /** Why a skipped table was not copied. */
  readonly skipped?: SkipReason | undefined
  /** Why a table was skipped, in words. */
  readonly reason?: string | undefined
  /** Things that went wrong after the data committed (an index, a constraint), or notes. */
  readonly warnings?: readonly string[] | undefined
}

/** What a sync of one table did. */
export interface SyncSummary {
  readonly inserted: number
  readonly updated: number
  readonly deleted: number
  /** Rows already identical on the target: not moved, not written. */
  readonly unchanged: number
}

/** succeeded: everything was transferred; failed: a table or the run failed; interrupted: stopped by a signal. */
export type RunStatus = 'succeeded' | 'failed' | 'interrupted'

/** How a run, an export or an import ended: what the log records, the e-mail shows and `--json` prints. */
export interface RunReport {
  readonly runId: string
  readonly status: RunStatus
  /** What the run was: `run`, `export`, `import`. */
  readonly kind: 'run' | 'export' | 'import'
  readonly startedAt: string
  readonly finishedAt: string
  readonly durationMs: number
  /** Source URL without its password. */
  readonly source: string
  /** Target URL without its password. */
  readonly target: string
  /** Short names for subjects: `sales@db.example.com`, `local`. */
  readonly sourceName: string
  readonly targetName: string
  readonly snapshot: {
    /** When the source snapshot every table was read from was taken. */
    readonly takenAt?: string | undefined
    /** Why there is no shared snapshot, when there is none. */
    readonly unavailable?: string | undefined
  }
  readonly tables: readonly TableResult[]
  readonly totals: {
    readonly tables: number
    /** Copied by this run. */
    readonly copied: number
    /** Copied by the earlier run this one resumed (and skipped now). */
    readonly alreadyCopied: number
    readonly failed: number
    /** Not started: the run was stopped or failed before them; they kept their previous contents. */
    readonly notStarted: number
    /** alreadyCopied + notStarted. */
    readonly skipped: number
    /** Rows this run moved (tables already copied by an earlier run are not counted). */
    readonly rows: number
    /** Bytes of COPY data this run moved. */
    readonly bytes: number
    /** Rows that mode sync found identical on the target and did not move. */
    readonly unchangedRows: number
  }
  /**
   * Whether `tablehaul run --resume` can pick this run up: false when the target keeps no run records
   * (tablehaul could not create its schema there), so that a run again copies every table.
   */
  readonly resumable?: boolean | undefined
  /** A failure of the run as a whole (before, or instead of, copying). */
  readonly error?: ErrorInfo | undefined
  readonly warnings: readonly string[]
  /**
   * Views and other objects around the tables (`objects: all`) that could not be created; each is named
   * with its reason in `warnings`, and the run is failed. Absent when none failed.
   */
  readonly objectsFailed?: number | undefined
  /** The run's NDJSON log file. */
  readonly logFile?: string | undefined
  /**
   * The log files this run could not write in full (a disk that filled up), each with what to do; each is
   * also a note in `warnings`. The outcome stands, but the exit code says the report did not fully get out.
   * Absent when every line was written.
   */
  readonly logFailures?: readonly ErrorInfo[] | undefined
  /** What this process used: its peak resident memory and CPU time (of the whole process so far). */
  readonly resources?: { readonly peakRssBytes: number; readonly cpuMs: number } | undefined
  /** What happened to the e-mail; set after the report was sent (or not). */
  readonly notification?: NotificationOutcome | undefined
}

/** What happened to the report's e-mail. */
export interface NotificationOutcome {
  readonly status: 'sent' | 'failed' | 'skipped'
  /** Why nothing was sent (not configured, email.on), or where it went. */
  readonly detail: string
  readonly error?: ErrorInfo | undefined
}

export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof TablehaulError) {
    return { code: error.code, message: error.message, sqlState: error.sqlState, hint: error.hint }
  }
  const lostOn = connectionLostOn(error)
  if (lostOn) {
    return {
      code: lostOn === 'source' ? 'SOURCE_UNREACHABLE' : 'TARGET_UNREACHABLE',
      message: `lost the connection to the ${lostOn}: ${messageOf(error)}`,
      sqlState: sqlStateOf(error),
      hint:
        adviceFor(error, 'run', { side: lostOn }) ??
        `the ${lostOn} server restarted or stopped, or the network cut the connection; check that it accepts connections, then run the same command again`,
    }
  }
  // A server short of disk, memory, connection slots or lock table space, or a lock it could not get, in
  // any step outside a table's copy (which explains its own): which server, and what to do there.
  const resource = resourceCodeOf(error)
  if (resource) {
    const side = serverSideOf(error)
    return {
      code: resource,
      message: side ? `the ${side} server: ${messageOf(error)}` : messageOf(error),
      sqlState: sqlStateOf(error),
      hint: adviceFor(error, 'run', { side }),
    }
  }
  return { code: 'INTERNAL', message: messageOf(error), sqlState: sqlStateOf(error) }
}

export function totalsOf(tables: readonly TableResult[]): RunReport['totals'] {
  const copied = tables.filter((t) => t.status === 'copied')
  const alreadyCopied = tables.filter((t) => t.skipped === 'already-copied').length
  const skipped = tables.filter((t) => t.status === 'skipped').length
  return {
    tables: tables.length,
    copied: copied.length,
    alreadyCopied,
    failed: tables.filter((t) => t.status === 'failed').length,
    notStarted: skipped - alreadyCopied,
    skipped,
    rows: copied.reduce((sum, t) => sum + t.rows, 0),
    bytes: copied.reduce((sum, t) => sum + t.bytes, 0),
    unchangedRows: copied.reduce((sum, t) => sum + (t.sync?.unchanged ?? 0), 0),
  }
}

/** A table whose data is on the target: copied by this run, or already by the run it resumes. */
export function isDone(table: TableResult): boolean {
  return table.status === 'copied' || table.skipped === 'already-copied'
}

/** Failures first, then the rest, each group largest first: the order summaries and e-mails use. */
export function tablesForDisplay(tables: readonly TableResult[]): TableResult[] {
  const rank = { failed: 0, copied: 1, skipped: 2 } as const
  return [...tables].sort(
    (a, b) => rank[a.status] - rank[b.status] || b.bytes - a.bytes || a.table.localeCompare(b.table),
  )
}

/** Peak RSS and CPU time of this process, for the report (memory is a documented figure). */
export function processResources(): NonNullable<RunReport['resources']> {
  const usage = process.resourceUsage()
  return {
    peakRssBytes: usage.maxRSS * 1024,
    cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000),
  }
}
