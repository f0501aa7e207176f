import { EventEmitter } from 'node:events'
import type { ErrorInfo, RunReport, TableResult } from './run-report.js'

/** The steps of a run, in order. */
export type RunStep = 'connect' | 'snapshot' | 'plan' | 'schema' | 'copy' | 'constraints' | 'views' | 'report'

/** One table of the plan, as the `run.planned` event announces it. */
export interface PlannedTable {
  readonly table: string
  readonly source: string
  readonly mode: 'replace' | 'append' | 'recreate' | 'sync'
  /** Why the mode differs from the one asked for (`sync → replace: no key (…)`). */
  readonly modeNote?: string | undefined
  readonly format: 'text' | 'binary'
  readonly targetState: 'missing' | 'exists'
  readonly estimatedBytes: number
  readonly estimatedRows: number | null
  /** Why the table will fail without being touched, if it will. */
  readonly problem?: ErrorInfo | undefined
}

/** What a `TransferJob` tells its observers (the run log, the progress display, the e-mail). */
export interface TransferEvents {
  'run.started': { runId: string; kind: RunReport['kind']; source: string; target: string; startedAt: string }
  'step.started': { step: RunStep }
  'run.planned': { tables: PlannedTable[]; snapshotTakenAt?: string | undefined; warnings: readonly string[] }
  'run.warning': { message: string }
  'table.started': { table: string; attempt: number; estimatedBytes: number; estimatedRows: number | null }
  'table.progress': {
    table: string
    bytes: number
    /** Rows read from the source so far (for binary COPY, one more: its trailer). */
    rows?: number
    estimatedBytes: number
    /** Set once the data is in and the table's indexes, constraints and commit are under way. */
    finishing?: boolean
    /**
     * What the copy is doing from now on, set as each phase begins (`waiting for a lock on the target
     * table`, `finding the rows written since the last copy`, `copying (no bytes moved)`, …).
     */
    phase?: string
  }
  'table.retrying': { table: string; attempt: number; delayMs: number; error: ErrorInfo }
  'table.copied': TableResult
  'table.failed': TableResult
  'table.skipped': TableResult
  /** A note on a table that came after its own event (a foreign key put back at the end of the run). */
  'table.note': { table: string; message: string }
  /** A view (or an object of `objects: all`) that could not be created; the run ends failed. */
  'object.failed': { object: string; message: string }
  'notify.sent': { to: readonly string[]; via: string }
  'notify.failed': { error: ErrorInfo }
  'run.finished': RunReport
}

/** The name of an event a `TransferJob` emits, such as `table.copied`. */
export type TransferEventName = keyof TransferEvents

/** A typed EventEmitter: listeners get the payload type of their event. */
export class TransferEmitter {
  private readonly emitter = new EventEmitter()

  on<K extends TransferEventName>(event: K, listener: (payload: TransferEvents[K]) => void): this {
    this.emitter.on(event, listener)
    return this
  }

  off<K extends TransferEventName>(event: K, listener: (payload: TransferEvents[K]) => void): this {
    this.emitter.off(event, listener)
    return this
  }

  /** Listens to every event, with its name: what the run log uses. */
  onAny(listener: <K extends TransferEventName>(event: K, payload: TransferEvents[K]) => void): this {
    for (const event of EVENT_NAMES) this.emitter.on(event, (payload) => listener(event, payload))
    return this
  }

  protected emit<K extends TransferEventName>(event: K, payload: TransferEvents[K]): void {
    this.emitter.emit(event, payload)
  }
}

const EVENT_NAMES: readonly TransferEventName[] = [
  'run.started',
  'step.started',
  'run.planned',
  'run.warning',
  'table.started',
  'table.progress',
  'table.retrying',
  'table.copied',
  'table.failed',
  'table.skipped',
  'table.note',
  'object.failed',
  'notify.sent',
  'notify.failed',
  'run.finished',
]
