import type cliProgress from 'cli-progress'
import { createRequire } from 'node:module'
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatSpeed,
  plural,
  rowCount,
  truncateEnd,
} from '../format.js'
import { describeError } from '../errors.js'
import { type RunReport, type TableResult } from '../report/run-report.js'
import type { TransferEmitter, TransferEvents } from '../report/events.js'
import { paint, type Writer, wrap } from './output.js'

interface ActiveTable {
  readonly table: string
  readonly startedAt: number
  readonly estimatedBytes: number
  readonly estimatedRows: number | null
  bytes: number
  /** Rows read so far (counted as they pass), when the copy reports them. */
  rows?: number
  /** The data is in; indexes, constraints and the commit are under way. */
  finishing: boolean
  finishingSince?: number
  /** What the copy waits for while no data moves (a lock, a sync's comparison), and since when. */
  waiting?: { readonly what: string; readonly since: number } | undefined
  bar?: cliProgress.SingleBar
}

export interface ProgressOptions {
  /** Seconds between progress lines when not on a terminal. @default 5 */
  readonly intervalSeconds?: number
}

/** An ETA is shown once a table (or the run) has moved data for this long: earlier rates are noise. */
const ETA_AFTER_MS = 2000
const NAME_WIDTH_MAX = 40
const ERASE_LINE = '\u001b[2K'

/**
 * What a run shows while it works. On a terminal: one live line per table being copied and one for the run
 * (rows, bytes, rate, ETA from the catalog's estimates), redrawn in place a few times a second with one write
 * per frame (no flicker), and cleared at the end. Elsewhere (cron, CI, a pipe): a line per active table every
 * few seconds, and a line as each table ends. It only observes the job's events, which the copy throttles,
 * so it costs the COPY path nothing.
 */
export class ProgressDisplay {
  private readonly active = new Map<string, ActiveTable>()
  private readonly done: TableResult[] = []
  private kind: RunReport['kind'] = 'run'
  private copyStartedAt: number | undefined
  private plannedBytes = 0
  private plannedTables = 0
  private readonly estimatedBytes = new Map<string, number>()
  private nameWidth = 12
  private multibar: cliProgress.MultiBar | undefined
  private runBar: cliProgress.SingleBar | undefined
  private frame: FrameBuffer | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly interactive: boolean
  private readonly startedAt = Date.now()

  constructor(
    job: TransferEmitter,
    private readonly writer: Writer,
    private readonly options: ProgressOptions = {},
  ) {
    this.interactive = Boolean(writer.isTTY) && process.env.TERM !== 'dumb'
    job.on('run.started', ({ kind }) => (this.kind = kind))
    job.on('step.started', ({ step }) => this.step(step))
    job.on('run.planned', (event) => this.planned(event))
    job.on('run.warning', ({ message }) => this.note(`${paint(this.writer, 'yellow', 'note')}: ${message}`))
    job.on('table.started', (event) => this.started(event))
    job.on('table.progress', (event) => this.progress(event))
    job.on('table.retrying', (event) =>
      this.note(
        `${paint(this.writer, 'yellow', 'retry')} ${event.table} (attempt ${event.attempt + 1} in ${formatDuration(event.delayMs)}): ${describeError(event.error)}`,
      ),
    )
    job.on('table.copied', (result) => this.ended(result))
    job.on('table.failed', (result) => this.ended(result))
    job.on('table.skipped', (result) => this.skipped(result))
    job.on('run.finished', () => this.stop())
  }

  /** Prints a line above the live lines (or as is, off a terminal), without disturbing them. */
  note(text: string): void {
    if (this.multibar) {
      // Lines are not wrapped by the terminal while the live lines are drawn: wrap them here.
      // Each line is erased first: it is written where a live line was drawn.
      const lines = wrap(this.writer, text, 2).split('\n')
      this.multibar.log(lines.map((line) => `${ERASE_LINE}${line}\n`).join(''))
      this.multibar.update()
    } else this.writer.write(`${text}\n`)
  }

  /** Clears the live lines and stops the timers; called at the end of the run (and safe to call twice). */
  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    if (this.multibar) {
      // Lines logged since the last frame are only written by a frame: draw one, then clear the bars.
      this.multibar.update()
      this.multibar.stop()
      this.frame?.flush()
      this.multibar = undefined
    }
  }

  private step(step: string): void {
    if (step === 'copy' || step === 'connect' || this.kind !== 'run') return
    if (!this.interactive) this.note(paint(this.writer, 'dim', `-- ${step}`))
  }

  private planned(event: TransferEvents['run.planned']): void {
    this.plannedTables = event.tables.length
    this.plannedBytes = event.tables.reduce((sum, t) => sum + t.estimatedBytes, 0)
    for (const table of event.tables) this.estimatedBytes.set(table.table, table.estimatedBytes)
    const widest = Math.max(this.nameWidth, ...event.tables.map((t) => t.table.length))
    // On a terminal the names share the line with the numbers; in a log they are written whole.
    const room = Math.max(12, Math.floor((this.writer.columns ?? 80) * 0.3))
    this.nameWidth = this.interactive ? Math.min(widest, NAME_WIDTH_MAX, room) : widest
    this.note(this.plannedLine(event))
    if (this.interactive) {
      this.frame = new FrameBuffer(this.writer)
      // Loaded only for a terminal: cron and pipes do without it.
      const { MultiBar, Presets } = createRequire(import.meta.url)('cli-progress') as typeof cliProgress
      this.multibar = new MultiBar(
        {
          stream: this.frame as unknown as NodeJS.WriteStream,
          hideCursor: true,
          clearOnComplete: true,
          stopOnComplete: false,
          linewrap: false,
          fps: 4,
          format: (_options, _params, payload: { line?: Part[] }) => this.fit(payload.line ?? []),
        },
        Presets.shades_classic,
      )
      // One write per frame: the terminal never shows a half-drawn set of lines.
      this.multibar.on('update-post', () => this.frame?.flush())
      this.multibar.on('stop', () => this.frame?.flush())
      this.runBar = this.multibar.create(1, 0, { line: this.runLine() })
    } else {
      const every = (this.options.intervalSeconds ?? 5) * 1000
      this.timer = setInterval(() => this.printActive(), every)
      this.timer.unref()
    }
  }

  private plannedLine(event: TransferEvents['run.planned']): string {
    const first = event.tables[0]
    if (this.kind === 'export') return `exporting the query's result into ${first?.table ?? 'the file'}`
    if (this.kind === 'import') {
      const size = first && first.estimatedBytes > 0 ? ` (${formatBytes(first.estimatedBytes)})` : ''
      return `importing ${first?.source ?? 'the file'}${size} into ${first?.table ?? 'the table'}`
    }
    const missing = event.tables.filter((t) => t.targetState === 'missing').length
    const tables = plural(event.tables.length, 'table')
    return `planned ${tables} (~${formatBytes(this.plannedBytes)}${missing ? `, ${missing} to create on the target` : ''})${event.snapshotTakenAt ? `, source snapshot ${event.snapshotTakenAt}` : ''}`
  }

  private started(event: TransferEvents['table.started']): void {
    this.copyStartedAt ??= Date.now()
    const table: ActiveTable = {
      table: event.table,
      startedAt: Date.now(),
      estimatedBytes: event.estimatedBytes,
      estimatedRows: event.estimatedRows,
      bytes: 0,
      finishing: false,
    }
    const previous = this.active.get(event.table)
    if (previous?.bar) this.multibar?.remove(previous.bar)
    if (this.multibar) table.bar = this.multibar.create(1, 0, { line: this.tableLine(table) })
    this.active.set(event.table, table)
    this.redraw()
  }

  private progress(event: TransferEvents['table.progress']): void {
    const table = this.active.get(event.table)
    if (!table) return
    table.bytes = event.bytes
    if (event.rows !== undefined) table.rows = event.rows
    // A phase that streams rows shows the bar; any other (a lock wait, hashing, applying a sync's
    // differences) would only show an unmoving 0 %, so it is named instead.
    if (event.phase !== undefined)
      table.waiting = /^copying|no bytes moved/.test(event.phase)
        ? undefined
        : { what: event.phase, since: Date.now() }
    if (event.finishing && !table.finishing) {
      table.finishing = true
      table.finishingSince = Date.now()
    }
    this.redraw()
  }

  private ended(result: TableResult): void {
    const table = this.active.get(result.table)
    if (table?.bar) this.multibar?.remove(table.bar)
    this.active.delete(result.table)
    this.done.push(result)
    this.redraw()
    // An export or import is one "table": the summary that follows says it all.
    if (this.kind !== 'run' && result.status === 'copied') return
    if (!this.interactive) {
      const status =
        result.status === 'copied' ? paint(this.writer, 'green', 'OK') : paint(this.writer, 'red', 'FAILED')
      const detail =
        result.status === 'copied'
          ? `${rowCount(result.rows)}, ${formatBytes(result.bytes)} in ${formatDuration(result.durationMs)}`
          : result.error
            ? describeError(result.error)
            : ''
      const count = this.kind === 'run' ? ` [${this.done.length}/${this.plannedTables}]` : ''
      this.note(`${status} ${result.table} ${detail}${count}`)
    } else if (result.status === 'failed' && result.error) {
      this.note(`${paint(this.writer, 'red', 'FAILED')} ${result.table}: ${describeError(result.error)}`)
    }
  }

  /**
   * A table this run does not copy (a resumed run's, already copied; one never started): it counts as
   * ended, and its size leaves what is left to move, so neither the count nor the ETA waits for it.
   */
  private skipped(result: TableResult): void {
    this.plannedBytes = Math.max(0, this.plannedBytes - (this.estimatedBytes.get(result.table) ?? 0))
    this.done.push(result)
    this.redraw()
  }

  /** Updates the payloads; the multibar draws them on its next frame. */
  private redraw(): void {
    if (!this.multibar) return
    for (const table of this.active.values()) table.bar?.update(0, { line: this.tableLine(table) })
    this.runBar?.update(0, { line: this.runLine() })
  }

  private printActive(): void {
    for (const table of this.active.values()) this.note(`  ${join(this.tableLine(table))}`)
  }

  private tableLine(table: ActiveTable): Part[] {
    const now = Date.now()
    const elapsedMs = now - table.startedAt
    const rate = elapsedMs > 0 ? (table.bytes * 1000) / elapsedMs : 0
    // Rows against the planner's row estimate track progress best (COPY's bytes are not the table's
    // on-disk bytes); the size is the fallback. Neither is exact: never claim 100% before the end.
    const byRows = table.rows !== undefined && table.estimatedRows !== null && table.estimatedRows > 0
    const estimated = byRows || table.estimatedBytes > 0
    const fraction = byRows
      ? Math.min(0.99, table.rows! / table.estimatedRows!)
      : estimated
        ? Math.min(0.99, table.bytes / table.estimatedBytes)
        : undefined
    const parts: Part[] = [{ text: fitName(table.table, this.nameWidth), keep: 100 }]
    if (table.finishing) {
      // The bytes are all there; what is left has no size to measure, only a time.
      const since = formatDuration(now - (table.finishingSince ?? now))
      parts.push(
        { text: 'data in, finishing (indexes, commit)', keep: 90 },
        { text: formatBytes(table.bytes), keep: 80 },
        { text: since, keep: 70 },
      )
      return parts
    }
    if (table.waiting) {
      parts.push(
        { text: table.waiting.what, keep: 90 },
        { text: formatBytes(table.bytes), keep: 60 },
        { text: formatDuration(now - table.waiting.since), keep: 70 },
      )
      return parts
    }
    if (fraction !== undefined) {
      parts.push({ text: bar(fraction), keep: 50, bar: true }, { text: percent(fraction), keep: 90 })
    }
    if (table.rows !== undefined) parts.push({ text: rowCount(table.rows), keep: 40 })
    else if (fraction !== undefined && table.estimatedRows)
      parts.push({ text: `~${formatCount(Math.round(table.estimatedRows * fraction))} rows`, keep: 40 })
    parts.push({
      text:
        table.estimatedBytes > 0 && !byRows
          ? `${formatBytes(table.bytes)} of ~${formatBytes(table.estimatedBytes)}`
          : formatBytes(table.bytes),
      keep: 80,
    })
    if (rate > 0) parts.push({ text: formatSpeed(rate), keep: 60 })
    if (fraction !== undefined && fraction > 0 && elapsedMs >= ETA_AFTER_MS)
      parts.push({ text: `ETA ${formatDuration((elapsedMs * (1 - fraction)) / fraction)}`, keep: 70 })
    return parts
  }

  private runLine(): Part[] {
    const now = Date.now()
    const bytes = this.bytesSoFar()
    const copyMs = this.copyStartedAt ? now - this.copyStartedAt : 0
    const rate = copyMs > 0 ? (bytes * 1000) / copyMs : 0
    const reached = this.plannedBytesReached()
    const fraction = this.plannedBytes > 0 ? Math.min(0.99, reached / this.plannedBytes) : undefined
    const failed = this.done.filter((t) => t.status === 'failed').length
    const parts: Part[] = [{ text: fitName(this.kind, this.nameWidth), keep: 100 }]
    if (fraction !== undefined)
      parts.push({ text: bar(fraction), keep: 50, bar: true }, { text: percent(fraction), keep: 90 })
    if (this.kind === 'run')
      parts.push({
        text: `${this.done.length}/${this.plannedTables} tables${failed ? ` (${failed} failed)` : ''}`,
        keep: 85,
      })
    parts.push({ text: formatBytes(bytes), keep: 80 })
    if (rate > 0) parts.push({ text: formatSpeed(rate), keep: 60 })
    if (fraction !== undefined && rate > 0 && copyMs >= ETA_AFTER_MS && this.plannedBytes > reached)
      parts.push({ text: `ETA ${formatDuration(((this.plannedBytes - reached) * 1000) / rate)}`, keep: 70 })
    parts.push({ text: `elapsed ${formatDuration(now - this.startedAt)}`, keep: 30 })
    return parts
  }

  /**
   * How far the run is in the catalog's estimates, which are sizes on disk: COPY moves fewer or more bytes
   * than that, so an ended table counts as its whole estimate and a running one as what it moved, up to its
   * estimate. Otherwise the bar would end short of (or pass) the full width.
   */
  private plannedBytesReached(): number {
    const estimate = (table: string, moved: number) => this.estimatedBytes.get(table) ?? moved
    let reached = 0
    for (const table of this.done)
      if (table.status !== 'skipped') reached += estimate(table.table, table.bytes)
    for (const table of this.active.values())
      reached += Math.min(table.bytes, estimate(table.table, table.bytes))
    return reached
  }

  private bytesSoFar(): number {
    let bytes = 0
    for (const table of this.done) bytes += table.status === 'copied' ? Math.max(table.bytes, 0) : 0
    for (const table of this.active.values()) bytes += table.bytes
    return bytes
  }

  /** A live line never wraps (that would break the redraw in place): the least useful parts go first. */
  private fit(parts: readonly Part[]): string {
    const width = Math.max(20, (this.writer.columns ?? 80) - 1)
    const kept = [...parts]
    const length = () => kept.reduce((sum, p) => sum + p.text.length + 2, -2)
    while (length() > width && kept.length > 1) {
      const least = kept.reduce((min, p) => (p.keep < min.keep ? p : min))
      kept.splice(kept.indexOf(least), 1)
    }
    const line = kept.map((p) => p.text).join('  ')
    return truncateEnd(line, width)
  }
}

/** A piece of a progress line; when a line is too wide, pieces with the lowest `keep` are left out. */
interface Part {
  readonly text: string
  readonly keep: number
  /** The drawn bar, which only a terminal shows. */
  readonly bar?: boolean
}

/**
 * Collects what the progress bars write during one frame and hands it to the terminal in a single write,
 * wrapped in "synchronized output" markers that terminals supporting them use to paint the frame at once.
 */
class FrameBuffer {
  private pending = ''

  constructor(private readonly target: Writer) {}

  get isTTY(): boolean {
    return true
  }

  get columns(): number | undefined {
    return this.target.columns
  }

  write(text: string): boolean {
    this.pending += text
    return true
  }

  flush(): void {
    if (!this.pending) return
    this.target.write(`\u001b[?2026h${this.pending}\u001b[?2026l`)
    this.pending = ''
  }
}

/** A progress line for a log: no bar (a log is read, not watched), names unpadded. */
function join(parts: readonly Part[]): string {
  return parts
    .filter((p) => !p.bar)
    .map((p) => p.text.trim())
    .join('  ')
}

function fitName(name: string, width: number): string {
  return truncateEnd(name, width).padEnd(width)
}

function percent(fraction: number): string {
  return `${String(Math.floor(fraction * 100)).padStart(2)}%`
}

function bar(fraction: number, width = 20): string {
  const filled = Math.round(fraction * width)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
}
