import { createReadStream, statSync } from 'node:fs'
import path from 'node:path'
import type { Readable, Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import copyStreams from 'pg-copy-streams'
import { requireSource } from '../config/load.js'
import { type Config, withoutTrailingSemicolons } from '../config/schema.js'
import type { ColumnInfo, TableInfo } from '../catalog/catalog.js'
import { type Database, READ_ONLY_SNAPSHOT, redactUrl, shortEndpoint } from '../db/database.js'
import { adviceFor } from '../db/sql-state-advice.js'
import { TableRef, displayIdentifier, quoteIdent } from '../db/table-ref.js'
import { TablehaulError, cutText, messageOf, sqlStateOf, systemErrorCodeOf } from '../errors.js'
import { errorInfo, type RunReport, type TableResult } from '../report/run-report.js'
import { Meter } from '../steps/copy/meter.js'
import { type Endpoints, type ReportingOptions, RunLifecycle, type RunOptions } from '../run/run-lifecycle.js'
import { openDatabase, readCatalog, resolveTargetUrl } from '../steps/connect.js'
import { requireWritableTarget } from '../steps/target-writable.js'
import { Watchdog } from '../steps/copy/watchdog.js'
import { type ExportSink, STDOUT, findDestination, openSink } from './export-destination.js'

/** What an export or import shares with a run: its log, its e-mail and its id. */
export type CsvTransferOptions = ReportingOptions

/** What `CsvExport` writes: a query's result into a file. */
export interface CsvExportOptions extends CsvTransferOptions {
  /** A query run on the source (`select * from sales.orders where …`); its result becomes the file. */
  readonly query: string
  /**
   * Where the CSV goes; a name ending in `.gz` is gzip-compressed. A regular file there is replaced once the
   * export is complete (keeping its mode), a new one is created `0600`, a character device or a FIFO is
   * written through, `-` is standard output; a symbolic link is followed when it belongs to the user running
   * tablehaul or to root. A folder, a socket or a block device is refused.
   */
  readonly file: string
  /** Where `file: '-'` writes; it is not ended. @default process.stdout */
  readonly stdout?: Writable | undefined
}

/** What `CsvImport` reads: a file into an existing table. */
export interface CsvImportOptions extends CsvTransferOptions {
  /** The target table, `schema.table` (quote mixed case: `sales."Orders"`). It must exist. */
  readonly table: string
  /** The CSV file to read, with a header line naming columns; a name ending in `.gz` is read as gzip. */
  readonly file: string
  /**
   * replace: the table ends holding exactly the file's rows; append: the rows are added. Either way it is
   * one transaction: a failed import leaves the table as it was. @default 'replace'
   */
  readonly mode?: 'replace' | 'append'
}

/**
 * The shape of an export or an import: one COPY between a server and a file, streamed with constant
 * memory, with the same events, log, report and e-mail as a run (`RunReport.kind` says which it was).
 */
abstract class CsvTransfer extends RunLifecycle {
  protected readonly file: string

  constructor(
    config: Config,
    kind: 'export' | 'import',
    file: string,
    endpoints: Endpoints,
    options: CsvTransferOptions,
  ) {
    super(config, kind, endpoints, options)
    this.file = file
  }

  protected async work(signal: AbortSignal): Promise<void> {
    const result = await this.transfer(signal)
    this.tableFinished(result.table, result)
  }

  /**
   * Does the work. Problems found before anything moved (no connection, no table) are thrown and become
   * the report's error; a failure of the copy itself is returned as a failed TableResult.
   */
  protected abstract transfer(signal: AbortSignal): Promise<TableResult>

  /** Announces the single "table" so the progress display and the log see it like a run's. */
  protected planned(
    table: string,
    source: string,
    estimatedBytes: number,
    estimatedRows: number | null,
    snapshotTakenAt?: string,
  ): void {
    this.announcePlan({
      snapshotTakenAt,
      warnings: [],
      tables: [
        {
          table,
          source,
          mode: 'replace',
          format: 'text',
          targetState: 'exists',
          estimatedBytes,
          estimatedRows,
        },
      ],
    })
    this.emit('step.started', { step: 'copy' })
    this.emit('table.started', { table, attempt: 1, estimatedBytes, estimatedRows })
  }

  /**
   * Streams `stages` under the run's signal and `watchdog`, which the stages' meters touch: the copy
   * fails when no bytes moved for `timeouts.stall`.
   */
  protected async stream(
    table: string,
    stages: ReadonlyArray<Readable | Transform | Writable>,
    watchdog: StallWatch,
    signal: AbortSignal,
    options: { end?: boolean } = {},
  ): Promise<void> {
    watchdog.phase('copying (no bytes moved)', this.config.timeouts.stall)
    try {
      await pipeline([...stages] as unknown as [Readable, Writable], {
        signal: AbortSignal.any([signal, watchdog.signal]),
        end: options.end ?? true,
      })
    } catch (error) {
      if (watchdog.error) throw watchdog.error
      if (signal.aborted) throw this.stopError(signal, table)
      throw error
    } finally {
      watchdog.stop()
    }
  }

  protected result(
    table: string,
    source: string,
    startedAt: number,
    fields: Pick<TableResult, 'status' | 'rows' | 'bytes'> & Partial<TableResult>,
  ): TableResult {
    return {
      table,
      source,
      mode: 'replace',
      format: 'text',
      created: false,
      attempts: 1,
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Date.now() - startedAt,
      ...fields,
    }
  }
}

/** A Watchdog whose firing aborts `signal`: what the stream of a CSV copy runs under. */
class StallWatch extends Watchdog {
  private readonly stalled: AbortController

  constructor(table: string) {
    const stalled = new AbortController()
    super(table, (error) => stalled.abort(error))
    this.stalled = stalled
  }

  get signal(): AbortSignal {
    return this.stalled.signal
  }
}

/**
 * `COPY (query) TO STDOUT` on the source into a CSV file with a header line, streamed (constant memory),
 * gzip-compressed when the file name ends in `.gz`. The query runs in a read-only transaction. A regular file
 * is written under a temporary name and renamed into place only once complete, so a failed export never
 * leaves a truncated file where the old one was; a device, a FIFO and `-` (standard output) are written
 * through. What is at `file` decides which (`findDestination`).
 */
export class CsvExport extends CsvTransfer {
  private readonly query: string
  private readonly stdout: Writable

  constructor(config: Config, options: CsvExportOptions) {
    const file = options.file === STDOUT ? STDOUT : path.resolve(options.file)
    const name = file === STDOUT ? 'stdout' : path.basename(file)
    const source = config.source
    super(
      config,
      'export',
      file,
      {
        source: source ? redactUrl(source.url) : '(none)',
        target: file === STDOUT ? 'stdout' : file,
        sourceName: source ? shortEndpoint(source.url) : '(no source)',
        targetName: name,
      },
      options,
    )
    this.query = withoutTrailingSemicolons(options.query)
    this.stdout = options.stdout ?? process.stdout
  }

  protected async transfer(signal: AbortSignal): Promise<TableResult> {
    const destination = findDestination(this.file)
    if (this.query === '') {
      throw new TablehaulError('USAGE_INVALID', 'the export query is empty', {
        hint: 'give --query "select … from …"',
      })
    }
    const sink = await openSink(destination, {
      runId: this.runId,
      stdout: this.stdout,
      signal,
      timeoutMs: this.config.timeouts.connect,
    })
    try {
      this.emit('step.started', { step: 'connect' })
      const endpoint = requireSource(this.config)
      const source = openDatabase(this.config, 'source', endpoint.url, endpoint.password)
      try {
        await source.check({ signal })
        return await this.copyOut(source, sink, signal)
      } finally {
        await source.close()
      }
    } finally {
      sink.close()
    }
  }

  private async copyOut(source: Database, sink: ExportSink, signal: AbortSignal): Promise<TableResult> {
    const label = this.file === STDOUT ? 'stdout' : path.basename(this.file)
    const startedAt = Date.now()
    const watchdog = new StallWatch(label)
    const meter = new Meter({
      onProgress: (bytes) => {
        watchdog.touch()
        this.emit('table.progress', { table: label, bytes, estimatedBytes: 0 })
      },
      progressIntervalMs: 200,
    })
    let connected = false
    try {
      // timeouts.statement bounds statements other than COPY; a COPY is bounded by the stall watchdog.
      const rows = await source.withTransaction(
        async (client) => {
          connected = true
          const { rows } = await client.query<{ at: Date }>('SELECT pg_catalog.statement_timestamp() AS at')
          const takenAt = rows[0]!.at.toISOString()
          this.snapshotTaken({ takenAt })
          this.planned(label, 'query', 0, null, takenAt)
          // Opened before the COPY is sent (a COPY stream that fails before it is piped has no listener for
          // its error), and not lazily by the stream: a failure must find the file there to remove it.
          const output = sink.writable()
          const copyOut = client.query(
            copyStreams.to(`COPY (${this.query}) TO STDOUT WITH (FORMAT csv, HEADER true)`),
          )
          const stages = isGzip(this.file) ? [copyOut, meter, createGzip(), output] : [copyOut, meter, output]
          try {
            await this.stream(label, stages, watchdog, signal, { end: sink.endsStream })
          } catch (error) {
            throw this.describe(error, copyOut, sink)
          }
          return copyOut.rowCount
        },
        { mode: READ_ONLY_SNAPSHOT, statementTimeoutMs: 0 },
      )
      sink.complete()
      return this.result(label, 'query', startedAt, { status: 'copied', rows, bytes: meter.bytes })
    } catch (error) {
      // No connection: nothing moved, the run's own error (see transfer).
      if (!connected) throw error
      const failure = error instanceof TablehaulError ? error : this.describe(error, undefined, sink)
      return this.result(label, 'query', startedAt, {
        status: 'failed',
        rows: 0,
        bytes: meter.bytes,
        error: errorInfo(failure),
      })
    }
  }

  private describe(
    error: unknown,
    copyOut: { rowCount: number } | undefined,
    sink: ExportSink,
  ): TablehaulError {
    if (error instanceof TablehaulError) return error
    if (sink.failedWith(error)) {
      const where = sink.name === 'stdout' ? 'to stdout' : sink.name
      return new TablehaulError('FILE_FAILED', `writing ${where} failed: ${messageOf(error)}`, {
        cause: error,
        hint:
          sink.name === 'stdout'
            ? 'the reader of the output stopped first; check the command it is piped into'
            : 'check the free space and the permissions of the file and its folder',
      })
    }
    const rows = copyOut && copyOut.rowCount > 0 ? ` after ${copyOut.rowCount} rows` : ''
    return new TablehaulError(
      'TABLE_COPY_FAILED',
      `the export query failed on the source${rows}: ${messageOf(error)}`,
      {
        cause: error,
        hint: `run the query in psql against the source to fix it (it runs read-only); ${path.basename(this.file)} was not written`,
      },
    )
  }
}

/**
 * `COPY table FROM STDIN` from a CSV file with a header line, streamed (constant memory), gunzipped when
 * the file name ends in `.gz`, in one target transaction: with `mode: replace` the old rows are removed in
 * that same transaction, so a file that fails half-way (a malformed line, a value that does not fit) leaves
 * the table exactly as it was. The header is checked against the table's columns before anything is
 * written; a malformed line is reported with its line number in the file.
 */
export class CsvImport extends CsvTransfer {
  private readonly ref: TableRef
  private readonly mode: 'replace' | 'append'

  constructor(config: Config, options: CsvImportOptions) {
    const file = path.resolve(options.file)
    const target = config.target
    super(
      config,
      'import',
      file,
      {
        source: file,
        target: target ? redactUrl(target.url) : `local (${config.local.dir})`,
        sourceName: path.basename(file),
        targetName: target ? shortEndpoint(target.url) : 'local',
      },
      options,
    )
    try {
      this.ref = TableRef.parse(options.table)
    } catch (error) {
      throw new TablehaulError('USAGE_INVALID', `--table: ${messageOf(error)}`, {
        hint: 'write schema.table, e.g. sales.stores_sales (quote mixed case: sales."Orders")',
      })
    }
    this.mode = options.mode ?? 'replace'
  }

  protected async transfer(signal: AbortSignal): Promise<TableResult> {
    const fileBytes = this.checkFile()
    const header = await readHeader(this.file)
    this.emit('step.started', { step: 'connect' })
    const targetUrl = await resolveTargetUrl(this.config)
    const target = openDatabase(this.config, 'target', targetUrl, this.config.target?.password)
    if (!this.config.target) this.connectedTo({ target: `local ${target.displayUrl}` })
    try {
      await target.check({ signal })
      await requireWritableTarget(target, { connectMs: this.config.timeouts.connect })
      this.emit('step.started', { step: 'plan' })
      const table = (await readCatalog(target)).table(this.ref)
      if (!table) {
        throw new TablehaulError(
          'TABLE_NOT_FOUND',
          `table ${this.ref.display} does not exist on the target ${target.displayUrl}`,
          {
            hint: 'create it first (tablehaul run creates it from the source), or check the name; quote mixed case: sales."Orders"',
            table: this.ref.display,
          },
        )
      }
      const columns = matchHeader(header, table, this.file)
      this.checkPrivileges(table)
      return await this.copyIn(target, table, columns, fileBytes, signal)
    } finally {
      await target.close()
    }
  }

  private checkFile(): number {
    let stats
    try {
      stats = statSync(this.file)
    } catch (error) {
      throw new TablehaulError('FILE_FAILED', `cannot read ${this.file}: ${messageOf(error)}`, {
        cause: error,
        hint: 'check the path given to --file',
      })
    }
    if (!stats.isFile()) {
      throw new TablehaulError('FILE_FAILED', `${this.file} is not a file`, {
        hint: 'give --file the path of a .csv or .csv.gz file',
      })
    }
    return stats.size
  }

  private checkPrivileges(table: TableInfo): void {
    if (!table.canInsert) {
      throw new TablehaulError('PRIVILEGE_MISSING', `no INSERT privilege on ${table.ref.display}`, {
        hint: `GRANT INSERT ON ${table.ref.sql} TO <the target user>`,
        table: table.ref.display,
      })
    }
    if (this.mode === 'replace' && !table.canTruncate) {
      throw new TablehaulError(
        'PRIVILEGE_MISSING',
        `no TRUNCATE privilege on ${table.ref.display}, which --mode replace needs`,
        {
          hint: `GRANT TRUNCATE ON ${table.ref.sql} TO <the target user>, or use --mode append`,
          table: table.ref.display,
        },
      )
    }
  }

  private async copyIn(
    target: Database,
    table: TableInfo,
    columns: readonly string[],
    fileBytes: number,
    signal: AbortSignal,
  ): Promise<TableResult> {
    const label = table.ref.display
    const startedAt = Date.now()
    const watchdog = new StallWatch(label)
    const fileMeter = new Meter({
      onProgress: (bytes) => {
        watchdog.touch()
        this.emit('table.progress', { table: label, bytes, estimatedBytes: fileBytes })
      },
      progressIntervalMs: 200,
    })
    const dataMeter = isGzip(this.file) ? new Meter() : fileMeter
    let connected = false
    try {
      const rows = await target.withTransaction(
        async (client) => {
          connected = true
          this.planned(label, path.basename(this.file), fileBytes, null)
          // TRUNCATE in the same transaction as the COPY keeps the old rows until COMMIT and allows COPY
          // FREEZE (not on a partitioned table, whose rows live in its partitions).
          const partitioned = table.kind === 'p'
          if (this.mode === 'replace')
            await client.query(`TRUNCATE ${partitioned ? '' : 'ONLY '}${table.ref.sql}`)
          const freeze = this.mode === 'replace' && !partitioned
          const copyIn = client.query(
            copyStreams.from(
              `COPY ${table.ref.sql} (${columns.map(quoteIdent).join(', ')}) FROM STDIN WITH (FORMAT csv, HEADER true${freeze ? ', FREEZE' : ''})`,
            ),
          )
          const file = createReadStream(this.file)
          const stages = isGzip(this.file)
            ? [file, fileMeter, createGunzip(), dataMeter, copyIn]
            : [file, fileMeter, copyIn]
          await this.stream(label, stages, watchdog, signal)
          return copyIn.rowCount
        },
        { statementTimeoutMs: 0 },
      )
      return this.result(label, path.basename(this.file), startedAt, {
        status: 'copied',
        mode: this.mode,
        rows,
        bytes: dataMeter.bytes,
      })
    } catch (error) {
      // No connection: nothing moved, the run's own error (see transfer).
      if (!connected) throw error
      // The connection was closed mid-transaction, so the server rolled it back: the old rows stay.
      return this.result(label, path.basename(this.file), startedAt, {
        status: 'failed',
        mode: this.mode,
        rows: 0,
        bytes: dataMeter.bytes,
        error: errorInfo(this.describe(error, label)),
      })
    }
  }

  private describe(error: unknown, table: string): TablehaulError {
    if (error instanceof TablehaulError) return error
    const file = this.file
    const name = path.basename(file)
    const kept = `${table} kept its previous rows`
    const zlibCode = (error as { code?: string }).code
    if (typeof zlibCode === 'string' && zlibCode.startsWith('Z_')) {
      return new TablehaulError('CSV_INVALID', `${name} is not a valid gzip file: ${messageOf(error)}`, {
        cause: error,
        table,
        hint: `${kept}; check the file (gzip -t ${name}), or rename it without .gz if it is not compressed`,
      })
    }
    // The context quotes the bad value, which can be megabytes: its start names the line and the column.
    const where = cutText((error as { where?: string }).where ?? '')
    const at = /^COPY [^,]+, line (\d+)(?:, column ([^:]+))?/.exec(where)
    if (at) {
      const line = at[1]!
      const column = at[2] ? `, column ${at[2]}` : ''
      const state = sqlStateOf(error)
      const message = cutText((error as Error).message)
      const unzipped = isGzip(file) ? ' (of the uncompressed file)' : ''
      const fix = state?.startsWith('23')
        ? `the row on line ${line} violates a constraint of ${table}; fix or remove it`
        : `fix line ${line} of ${name}${unzipped}${column ? ` (${at[2]!.trim()})` : ''}`
      return new TablehaulError('CSV_INVALID', `${name} line ${line}${column}: ${message}`, {
        cause: error,
        table,
        hint: `${kept}; ${fix} and import again`,
      })
    }
    if (isFileError(error)) {
      return new TablehaulError('FILE_FAILED', `reading ${file} failed: ${messageOf(error)}`, {
        cause: error,
        table,
        hint: `${kept}; check the file and run again`,
      })
    }
    const hint =
      adviceFor(error, 'import', { side: 'target' }) ??
      'run again; if it repeats, check the target server log'
    return new TablehaulError('TABLE_COPY_FAILED', `import into ${table} failed: ${messageOf(error)}`, {
      cause: error,
      table,
      hint: `${kept}; ${hint}`,
    })
  }
}

/** Exports a query's result to a CSV file: `new CsvExport(config, options).run(runOptions)`. */
export function exportCsv(config: Config, options: CsvExportOptions & RunOptions): Promise<RunReport> {
  return new CsvExport(config, options).run(options)
}

/** Imports a CSV file into a table: `new CsvImport(config, options).run(runOptions)`. */
export function importCsv(config: Config, options: CsvImportOptions & RunOptions): Promise<RunReport> {
  return new CsvImport(config, options).run(options)
}

/** An error of the file system (it names the path), as opposed to one of a connection. */
function isFileError(error: unknown): boolean {
  return Boolean(systemErrorCodeOf(error)) && typeof (error as { path?: unknown }).path === 'string'
}

function isGzip(file: string): boolean {
  return file.toLowerCase().endsWith('.gz')
}

const HEADER_LIMIT = 1024 * 1024

/** The first record of the file: its column names, as CSV (quotes, doubled quotes, a UTF-8 BOM). */
export async function readHeader(file: string): Promise<string[]> {
  const raw = createReadStream(file, { highWaterMark: 64 * 1024 })
  let input: Readable = raw
  if (isGzip(file)) {
    const gunzip = createGunzip()
    // A read error of the file reaches the loop below through the gunzip stream, which pipeline destroys.
    pipeline(raw, gunzip).catch(() => {})
    input = gunzip
  }
  let text = ''
  try {
    for await (const chunk of input) {
      text += (chunk as Buffer).toString('utf8')
      const fields = parseFirstRecord(text)
      if (fields) return fields
      if (text.length > HEADER_LIMIT) break
    }
  } catch (error) {
    throw new TablehaulError('CSV_INVALID', `${path.basename(file)} cannot be read: ${messageOf(error)}`, {
      cause: error,
      hint: isGzip(file)
        ? 'check that it is a gzip file (gzip -t), or rename it without .gz'
        : 'check the file',
    })
  } finally {
    raw.destroy()
    input.destroy()
  }
  const complete = parseFirstRecord(`${text}\n`)
  if (text.trim() !== '' && complete && text.length <= HEADER_LIMIT) return complete
  throw new TablehaulError(
    'CSV_INVALID',
    text.trim() === ''
      ? `${path.basename(file)} is empty`
      : `${path.basename(file)} line 1 is not a header line`,
    { hint: 'the first line must name the columns, e.g. id,name,created_at (tablehaul export writes it)' },
  )
}

/** Parses the first CSV record of `text`, or returns undefined when it does not end in `text` yet. */
function parseFirstRecord(text: string): string[] | undefined {
  const fields: string[] = []
  let field = ''
  let quoted = false
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  while (i < text.length) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"'
        i += 2
        continue
      }
      if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      fields.push(field)
      field = ''
    } else if (c === '\n' || c === '\r') {
      fields.push(field)
      return fields
    } else field += c
    i++
  }
  return undefined
}

/**
 * Maps the header's names onto the table's columns: exact names first, then a case-insensitive match
 * when it is unambiguous. Every problem is reported at once: unknown names, repeated names, generated
 * columns (PostgreSQL computes them) and NOT NULL columns without a default that the file leaves out.
 */
export function matchHeader(header: readonly string[], table: TableInfo, file: string): string[] {
  const byName = new Map(table.columns.map((c) => [c.name, c]))
  const problems: string[] = []
  const matched: ColumnInfo[] = []
  const unknown: string[] = []
  for (const name of header) {
    let column = byName.get(name)
    if (!column) {
      const folded = table.columns.filter((c) => c.name.toLowerCase() === name.trim().toLowerCase())
      if (folded.length === 1) column = folded[0]
    }
    if (!column) unknown.push(name)
    else if (matched.includes(column)) problems.push(`column ${displayIdentifier(column.name)} appears twice`)
    else matched.push(column)
  }
  if (unknown.length > 0) {
    problems.push(
      `${unknown.length === 1 ? 'column' : 'columns'} ${unknown.map((n) => JSON.stringify(n)).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in ${table.ref.display}`,
    )
  }
  const generated = matched.filter((c) => c.generated)
  if (generated.length > 0) {
    problems.push(
      `${generated.map((c) => displayIdentifier(c.name)).join(', ')} ${generated.length === 1 ? 'is a generated column' : 'are generated columns'}, which PostgreSQL computes: leave ${generated.length === 1 ? 'it' : 'them'} out of the file`,
    )
  }
  const required = table.columns.filter(
    (c) => !matched.includes(c) && c.notNull && c.defaultExpr === null && !c.identity && !c.generated,
  )
  if (required.length > 0) {
    problems.push(
      `missing ${required.length === 1 ? 'column' : 'columns'} ${required.map((c) => displayIdentifier(c.name)).join(', ')} (NOT NULL without a default)`,
    )
  }
  if (problems.length > 0) {
    const columns = table.columns
      .filter((c) => !c.generated)
      .map((c) => c.name)
      .join(',')
    throw new TablehaulError(
      'CSV_INVALID',
      `the header of ${path.basename(file)} does not fit ${table.ref.display}: ${problems.join('; ')}`,
      {
        hint: `the first line must name columns of the table, e.g. ${columns}; nothing was changed`,
        table: table.ref.display,
      },
    )
  }
  return matched.map((c) => c.name)
}
