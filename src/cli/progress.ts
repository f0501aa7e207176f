import cliProgress from 'cli-progress'
import { formatBytes, formatCount, formatDuration } from '../config/units.js'
import { describeError, type TableResult } from '../report/run-report.js'
import type { TransferEmitter, TransferEvents } from '../transfer/events.js'
import { paint, type Writer } from './output.js'

interface ActiveTable {
  readonly table: string
  readonly startedAt: number
  readonly estimatedBytes: number
  readonly estimatedRows: number | null
  bytes: number
  bar?: cliProgress.SingleBar
}

export interface ProgressOptions {
  /** Seconds between progress lines when not on a terminal. @default 5 */
  readonly intervalSeconds?: number
}

/**
 * What a run shows while it works. On a terminal: one live bar per table being copied and one for the run
 * (rows, bytes, rate, ETA from the catalog's estimates), cleared at the end. Elsewhere (cron, CI, a pipe):
 * a line per active table every few seconds, and a line as each table ends.
 */
export class ProgressDisplay {
  private readonly active = new Map<string, ActiveTable>()
  private readonly done: TableResult[] = []
  private readonly startedAt = Date.now()
  private plannedBytes = 0
  private plannedTables = 0
  private multibar: cliProgress.MultiBar | undefined
  private runBar: cliProgress.SingleBar | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly interactive: boolean

  constructor(
    job: TransferEmitter,
    private readonly writer: Writer,
    private readonly options: ProgressOptions = {},
  ) {
    this.interactive = Boolean(writer.isTTY) && process.env.TERM !== 'dumb'
    job.on('step.started', ({ step }) => this.step(step))
    job.on('run.planned', (event) => this.planned(event))
    job.on('run.warning', ({ message }) => this.line(`${paint(this.writer, 'yellow', 'note')}: ${message}`))
    job.on('table.started', (event) => this.started(event))
    job.on('table.progress', (event) => this.progress(event))
    job.on('table.retrying', (event) =>
      this.line(
        `${paint(this.writer, 'yellow', 'retry')} ${event.table} (attempt ${event.attempt + 1} in ${formatDuration(event.delayMs)}): ${describeError(event.error)}`,
      ),
    )
    job.on('table.copied', (result) => this.ended(result))
    job.on('table.failed', (result) => this.ended(result))
    job.on('run.finished', () => this.stop())
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    if (this.multibar) {
      this.multibar.stop()
      this.multibar = undefined
    }
  }

  private step(step: string): void {
    if (step === 'copy' || step === 'connect') return
    if (!this.interactive) this.line(paint(this.writer, 'dim', `-- ${step}`))
  }

  private planned(event: TransferEvents['run.planned']): void {
    this.plannedTables = event.tables.length
    this.plannedBytes = event.tables.reduce((sum, t) => sum + t.estimatedBytes, 0)
    const missing = event.tables.filter((t) => t.targetState === 'missing').length
    this.line(
      `planned ${event.tables.length} table${event.tables.length === 1 ? '' : 's'} (~${formatBytes(this.plannedBytes)}${missing ? `, ${missing} to create on the target` : ''})${event.snapshotTakenAt ? `, snapshot ${event.snapshotTakenAt}` : ''}`,
    )
    if (this.interactive) {
      this.multibar = new cliProgress.MultiBar(
        {
          stream: this.writer as NodeJS.WriteStream,
          hideCursor: true,
          clearOnComplete: true,
          stopOnComplete: false,
          autopadding: true,
          fps: 5,
          barsize: 24,
          format: (_options, params, payload: { line?: string }) => payload.line ?? `${params.value}`,
        },
        cliProgress.Presets.shades_classic,
      )
      this.runBar = this.multibar.create(Math.max(1, this.plannedBytes), 0, { line: this.runLine() })
    } else {
      const every = (this.options.intervalSeconds ?? 5) * 1000
      this.timer = setInterval(() => this.printActive(), every)
      this.timer.unref()
    }
  }

  private started(event: TransferEvents['table.started']): void {
    const table: ActiveTable = {
      table: event.table,
      startedAt: Date.now(),
      estimatedBytes: event.estimatedBytes,
      estimatedRows: event.estimatedRows,
      bytes: 0,
    }
    const previous = this.active.get(event.table)
    if (previous?.bar) this.multibar?.remove(previous.bar)
    if (this.multibar)
      table.bar = this.multibar.create(Math.max(1, event.estimatedBytes), 0, { line: this.tableLine(table) })
    this.active.set(event.table, table)
  }

  private progress(event: TransferEvents['table.progress']): void {
    const table = this.active.get(event.table)
    if (!table) return
    table.bytes = event.bytes
    table.bar?.update(Math.min(event.bytes, Math.max(1, table.estimatedBytes)), {
      line: this.tableLine(table),
    })
    this.runBar?.update(Math.min(this.bytesSoFar(), Math.max(1, this.plannedBytes)), { line: this.runLine() })
  }

  private ended(result: TableResult): void {
    const table = this.active.get(result.table)
    if (table?.bar) this.multibar?.remove(table.bar)
    this.active.delete(result.table)
    this.done.push(result)
    this.runBar?.update(Math.min(this.bytesSoFar(), Math.max(1, this.plannedBytes)), { line: this.runLine() })
    if (!this.interactive) {
      const status =
        result.status === 'copied' ? paint(this.writer, 'green', 'OK') : paint(this.writer, 'red', 'FAILED')
      const detail =
        result.status === 'copied'
          ? `${formatCount(result.rows)} rows, ${formatBytes(result.bytes)} in ${formatDuration(result.durationMs)}`
          : result.error
            ? describeError(result.error)
            : ''
      this.line(`${status} ${result.table} ${detail} [${this.done.length}/${this.plannedTables}]`)
    } else if (result.status === 'failed' && result.error) {
      this.line(`${paint(this.writer, 'red', 'FAILED')} ${result.table}: ${describeError(result.error)}`)
    }
  }

  private printActive(): void {
    for (const table of this.active.values()) this.line(`  ${this.tableLine(table)}`)
  }

  private tableLine(table: ActiveTable): string {
    const elapsedMs = Date.now() - table.startedAt
    const rate = elapsedMs > 0 ? (table.bytes * 1000) / elapsedMs : 0
    const fraction = table.estimatedBytes > 0 ? Math.min(0.99, table.bytes / table.estimatedBytes) : undefined
    const parts = [table.table.padEnd(28).slice(0, Math.max(28, table.table.length))]
    if (fraction !== undefined)
      parts.push(`${bar(fraction)} ${String(Math.floor(fraction * 100)).padStart(2)}%`)
    if (fraction !== undefined && table.estimatedRows)
      parts.push(`~${formatCount(Math.round(table.estimatedRows * fraction))} rows`)
    parts.push(formatBytes(table.bytes), rate > 0 ? `${formatBytes(rate)}/s` : '')
    if (fraction !== undefined && rate > 0 && table.estimatedBytes > table.bytes) {
      parts.push(`ETA ${formatDuration(((table.estimatedBytes - table.bytes) * 1000) / rate)}`)
    }
    return parts.filter(Boolean).join('  ')
  }

  private runLine(): string {
    const bytes = this.bytesSoFar()
    const elapsedMs = Date.now() - this.startedAt
    const rate = elapsedMs > 0 ? (bytes * 1000) / elapsedMs : 0
    const fraction = this.plannedBytes > 0 ? Math.min(1, bytes / this.plannedBytes) : 0
    const failed = this.done.filter((t) => t.status === 'failed').length
    return [
      paint(this.writer, 'bold', 'run'.padEnd(28)),
      `${bar(fraction)} ${String(Math.floor(fraction * 100)).padStart(2)}%`,
      `${this.done.length}/${this.plannedTables} tables${failed ? ` (${failed} failed)` : ''}`,
      formatBytes(bytes),
      rate > 0 ? `${formatBytes(rate)}/s` : '',
      formatDuration(elapsedMs),
    ]
      .filter(Boolean)
      .join('  ')
  }

  private bytesSoFar(): number {
    let bytes = 0
    for (const table of this.done) bytes += table.status === 'copied' ? Math.max(table.bytes, 0) : 0
    for (const table of this.active.values()) bytes += table.bytes
    return bytes
  }

  private line(text: string): void {
    if (this.multibar) this.multibar.log(`${text}\n`)
    else this.writer.write(`${text}\n`)
  }
}

function bar(fraction: number, width = 20): string {
  const filled = Math.round(fraction * width)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
}
