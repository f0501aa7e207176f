// The `sync` case: what `mode: sync` costs against `replace` on the standard dataset, after a full copy,
// when a share of the source's rows changed since the last run. Rounds of changes on a working copy of the
// dataset (updates spread over the key range of every table, deletes and inserts that keep its foreign
// keys), then, on the same data, plain sync, sync with nothing changed, sync with the `changed:` hint and
// replace, each measured as the other cases are and shown as a ratio to the replace of its round.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import type { BenchServer } from './clusters.js'
import { type Dataset, ensureDataset } from './datasets.js'
import { measure } from './measure.js'
import { PROJECT_ROOT } from './methods.js'
import { fmt, median } from './report.js'
import { verifyCopy } from './verify.js'

export interface SyncBenchOptions {
  readonly id: string
  readonly dir: string
  readonly source: BenchServer
  readonly target: BenchServer
  readonly scale: number
  /** Rounds of 1 % changes; one round of 10 % and one of 50 % follow. */
  readonly rounds: number
  readonly jobs: number
  readonly verify: boolean
  readonly timeoutS: number
  /** The environment of the tablehaul process (PGPASSWORD, no stray PG* settings). */
  readonly env: Readonly<Record<string, string>>
  /** `<date>-sync-results.tsv`: one row per measured run. */
  readonly resultsFile: string
  readonly commit: string
  readonly say: (line: string) => void
}

/** What each round measures, in this order. */
export const SYNC_RUNS = ['sync', 'sync, nothing changed', 'sync with changed:', 'replace'] as const
type SyncRun = (typeof SYNC_RUNS)[number]

/** The tables of the standard dataset that have a column every writer of the bench sets: the hint's column. */
const HINTED: Readonly<Record<string, string>> = {
  'public.wide': 'updated_at',
  'public.settings': 'updated_at',
}
const TABLES = ['accounts', 'branches', 'categories', 'documents', 'settings', 'wide'].map(
  (t) => `public.${t}`,
)

export interface SyncRow {
  readonly round: number
  readonly share: number
  readonly run: SyncRun
  readonly wallS: number
  readonly clientCpuS: number
  readonly srcCpuS: number
  readonly tgtCpuS: number
  readonly copyBytes: number
  readonly walBytes: number
  readonly othersCpuS: number
  readonly exit: number
  readonly verify: string
  /** Tables that were reloaded instead of synced, and what the hint missed. */
  readonly notes: readonly string[]
}

interface JsonReport {
  status?: string
  totals?: { bytes?: number }
  tables?: Array<{ table: string; warnings?: string[]; sync?: unknown }>
}

const TSV_COLUMNS = [
  'batch',
  'scale',
  'round',
  'share',
  'run',
  'wall_s',
  'client_cpu_s',
  'src_cpu_s',
  'tgt_cpu_s',
  'copy_bytes',
  'wal_bytes',
  'others_cpu_s',
  'exit',
  'verify',
  'notes',
  'commit',
] as const

export class SyncBench {
  readonly rows: SyncRow[] = []
  private dataset: Dataset | undefined
  private mutations = 0

  constructor(private readonly options: SyncBenchOptions) {}

  private get work(): string {
    return `bench_sync_s${String(this.options.scale).replace('.', '_')}`
  }

  async run(signal: AbortSignal): Promise<SyncRow[]> {
    const { source, target, say, scale } = this.options
    const dataset = await ensureDataset(source, 'standard', scale, say)
    this.dataset = dataset
    say(
      `\nsync on standard scale ${scale}: ${dataset.tableMb} MB of table data + ${dataset.indexMb} MB of indexes; ` +
        `working copy ${this.work}`,
    )
    // a working copy the rounds change; FILE_COPY: a checkpoint and a file copy instead of WAL for every page
    await source.withClient(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(this.work)} WITH (FORCE)`)
      await client.query(
        `CREATE DATABASE ${pg.escapeIdentifier(this.work)} TEMPLATE ${pg.escapeIdentifier(dataset.database)} STRATEGY FILE_COPY`,
      )
    })
    await target.recreateDatabase(this.work)
    try {
      const first = await this.tablehaul('initial', 'replace', false, signal)
      say(`  initial full copy: ${fmt(first.wallS, 2)} s`)
      // the first mark of the hinted tables: a sync with the hint records the high-water mark
      const warm = await this.tablehaul('warm-up', 'sync', true, signal)
      say(`  first sync with changed: (records the marks): ${fmt(warm.wallS, 2)} s`)
      const shares = [...Array.from({ length: this.options.rounds }, () => 0.01), 0.1, 0.5]
      for (const [index, share] of shares.entries()) {
        if (signal.aborted) break
        await this.round(index + 1, share, signal)
      }
    } finally {
      await source
        .withClient((client) =>
          client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(this.work)} WITH (FORCE)`),
        )
        .catch(() => {})
      await target.recreateDatabase(this.work).catch(() => {})
    }
    return this.rows
  }

  /**
   * One round: the changes, then sync and sync with nothing changed (which, run with the hints, records
   * the marks the hinted sync starts from); the same share of changes again (other rows), then the sync
   * with the `changed:` hint; then replace, whose cost does not depend on what changed.
   */
  private async round(round: number, share: number, signal: AbortSignal): Promise<void> {
    const { say } = this.options
    say(`  round ${round}: ${share * 100} % of the rows updated, 0.1 % deleted, 0.5 % inserted`)
    await this.mutate(share)
    const order: Array<{
      run: SyncRun
      mode: 'sync' | 'replace'
      hinted: boolean
      before?: () => Promise<void>
    }> = [
      { run: 'sync', mode: 'sync', hinted: false },
      { run: 'sync, nothing changed', mode: 'sync', hinted: true },
      { run: 'sync with changed:', mode: 'sync', hinted: true, before: () => this.mutate(share) },
      { run: 'replace', mode: 'replace', hinted: false },
    ]
    for (const step of order) {
      if (signal.aborted) return
      await step.before?.()
      const result = await this.tablehaul(`r${round}-${step.run}`, step.mode, step.hinted, signal)
      const verify =
        result.exit !== 0
          ? `exit ${result.exit}; see ${result.logFile}`
          : this.options.verify && step.mode === 'sync' && step.run !== 'sync, nothing changed'
            ? await this.check(round, step.run)
            : 'not verified'
      const row: SyncRow = { round, share, run: step.run, ...result, verify }
      this.rows.push(row)
      this.append(row)
      say(
        `    ${step.run.padEnd(22)} wall ${fmt(row.wallS, 2).padStart(7)} s  client CPU ${fmt(row.clientCpuS, 2).padStart(6)} s  ` +
          `src ${fmt(row.srcCpuS, 2).padStart(6)} s  tgt ${fmt(row.tgtCpuS, 2).padStart(6)} s  ` +
          `COPY ${fmt(row.copyBytes / 1048576, 1).padStart(7)} MB  WAL ${fmt(row.walBytes / 1048576, 1).padStart(7)} MB  ` +
          `others ${fmt(row.othersCpuS / row.wallS, 2)} cores  ${verify}` +
          (row.notes.length ? `\n      ${row.notes.join('\n      ')}` : ''),
      )
    }
  }

  /**
   * Changes on the source: `share` of the rows of every table updated, spread over the key range (every
   * n-th key, another residue each time); 0.1 % of accounts, wide and documents deleted (wide rows no
   * document refers to); 0.5 % inserted (new keys, foreign keys copied from existing rows). The hinted
   * tables' updated_at is set on every row written, as a writer that keeps it does.
   */
  private async mutate(share: number): Promise<void> {
    const k = ++this.mutations
    const every = Math.max(1, Math.round(1 / share))
    const pick = (column: string) => `${column} % ${every} = ${k % every}`
    const statements = [
      `UPDATE accounts SET abalance = abalance + 1 WHERE ${pick('aid')}`,
      `UPDATE branches SET city = coalesce(city, '') || '.' WHERE ${pick('bid')}`,
      `UPDATE categories SET name = name || '.' WHERE ${pick('id')}`,
      `UPDATE settings SET value = coalesce(value, '{}') || jsonb_build_object('round', ${k}), updated_at = now()
        WHERE ${pick('abs(hashtext(key))')}`,
      `UPDATE wide SET note = 'round ${k}', amount = coalesce(amount, 0) + 1, updated_at = now() WHERE ${pick('id')}`,
      `UPDATE documents SET title = title || '.' WHERE ${pick('doc_id')}`,
      `DELETE FROM accounts WHERE aid % 1000 = ${(k * 7) % 1000}`,
      `DELETE FROM documents WHERE doc_id % 1000 = ${(k * 7 + 3) % 1000}`,
      `DELETE FROM wide WHERE id % 1000 = ${(k * 7 + 5) % 1000}
          AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.wide_id = wide.id)`,
      `INSERT INTO accounts (aid, bid, abalance, filler)
       SELECT m.top + row_number() OVER (), a.bid, 0, a.filler
         FROM accounts a, (SELECT max(aid) AS top FROM accounts) m WHERE a.aid % 200 = ${k % 200}`,
      `INSERT INTO wide (customer_id, category_id, ext_id, name, email, status, amount, ratio, qty, score,
                         created_at, updated_at, birth_date, is_active, flags, tags, attrs, payload, note)
       SELECT customer_id, category_id, gen_random_uuid(), name, email, status, amount, ratio, qty, score,
              created_at, now(), birth_date, is_active, flags, tags, attrs, payload, 'inserted in round ${k}'
         FROM wide WHERE id % 200 = ${(k + 100) % 200}`,
      `INSERT INTO documents (doc_id, wide_id, title, lang, body, created_at)
       SELECT m.top + row_number() OVER (), d.wide_id, d.title || ' (copy)', d.lang, d.body, now()
         FROM documents d, (SELECT max(doc_id) AS top FROM documents) m WHERE d.doc_id % 200 = ${(k + 50) % 200}`,
    ]
    await this.options.source.withClient(async (client) => {
      for (const sql of statements) await client.query(sql)
      // the source's row estimates as autovacuum would leave them, and its statistics counters flushed
      // now (PostgreSQL 15 flushes them at most once a second): a sync predicts a reload from them
      await client.query('ANALYZE')
      // Every table read once, as the source's own readers do between a day's writes and a nightly run:
      // the first reader of a page the changes wrote sets its rows' hint bits and prunes the old row
      // versions. Without this the first run measured after the changes (always a sync) paid for it, and
      // replace, measured last, never did.
      for (const table of TABLES) await client.query(`SELECT count(xmin) FROM ONLY ${table}`)
      await client.query('SELECT pg_stat_force_next_flush()')
      await client.query('SELECT 1')
    }, this.work)
  }

  /** One tablehaul run, measured, with the target's WAL counted; `hinted`: the `changed:` entries. */
  private async tablehaul(
    label: string,
    mode: 'sync' | 'replace',
    hinted: boolean,
    signal: AbortSignal,
  ): Promise<Omit<SyncRow, 'round' | 'share' | 'run' | 'verify'> & { logFile: string }> {
    const { source, target, dir, jobs } = this.options
    const slug = label.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '')
    const workDir = path.join(dir, 'work', 'sync', slug)
    rmSync(workDir, { recursive: true, force: true })
    mkdirSync(workDir, { recursive: true })
    mkdirSync(path.join(dir, 'log'), { recursive: true })
    const args = [
      path.join(PROJECT_ROOT, 'bin', 'tablehaul.js'),
      'run',
      '--source',
      source.url(this.work),
      '--target',
      target.url(this.work),
      '--mode',
      mode,
      '--jobs',
      String(jobs),
      '--log-dir',
      path.join(workDir, 'logs'),
      '--json',
    ]
    if (hinted) {
      // every table of the dataset, the hinted ones with their column; the others sync without a hint
      const config = path.join(workDir, 'tablehaul.yaml')
      const entries = TABLES.map((t) =>
        HINTED[t] ? `  - { name: ${t}, changed: ${HINTED[t]} }` : `  - ${t}`,
      ).join('\n')
      writeFileSync(config, `mode: ${mode}\ntables:\n${entries}\n`)
      args.push('--config', config)
    }
    // neither server owing a checkpoint: each run's first change of a page is a full-page image
    await Promise.all([source.checkpoint(), target.checkpoint()])
    const walBefore = await this.walPosition()
    const result = await measure({
      command: { file: process.execPath, args },
      env: { ...this.options.env, PGAPPNAME: `bench-sync-${slug}` },
      workDir,
      logFile: path.join(dir, 'log', `${this.options.id}-${this.work}-${slug}.log`),
      source,
      target,
      database: this.work,
      timeoutS: this.options.timeoutS,
      signal,
    })
    const walBytes = await this.walBytesSince(walBefore)
    const report = readReport(path.join(workDir, 'stdout'))
    const notes = (report.tables ?? []).flatMap((t) =>
      (t.warnings ?? []).flatMap((w) => {
        const table = t.table.replace(/^public\./, '')
        if (w.includes("source's statistics")) return [`${table} reloaded (predicted from statistics)`]
        if (w.startsWith('sync → replace'))
          return [`${table} reloaded (${w.replace(/^sync → replace: /, '').replace(/, so .*$/, '')})`]
        const missed = /hint missed (\d+)/.exec(w)
        return missed ? [`${table}: the hint missed ${missed[1]} row(s)`] : []
      }),
    )
    return {
      wallS: result.wallS,
      clientCpuS: result.userS + result.sysS,
      srcCpuS: result.srcCpuS,
      tgtCpuS: result.tgtCpuS,
      copyBytes: report.totals?.bytes ?? NaN,
      walBytes,
      othersCpuS: result.othersCpuS,
      exit: result.exitCode,
      notes,
      logFile: result.logFile,
    }
  }

  private async walPosition(): Promise<string> {
    const [row] = await this.options.target.query<{ lsn: string }>(
      'postgres',
      'SELECT pg_current_wal_lsn()::text AS lsn',
    )
    return row!.lsn
  }

  private async walBytesSince(lsn: string): Promise<number> {
    const [row] = await this.options.target.query<{ bytes: string }>(
      'postgres',
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), ${pg.escapeLiteral(lsn)})::text AS bytes`,
    )
    return Number(row!.bytes)
  }

  /** The target holds exactly the source (rows, catalog, sequences): the bench's own check, outside the timing. */
  private async check(round: number, run: SyncRun): Promise<string> {
    const cache = path.join(this.options.dir, `fingerprints-${this.work}-current.json`)
    rmSync(cache, { force: true }) // the source changes every round
    const verdict = await verifyCopy(
      this.options.source.connection(this.work),
      this.options.target.connection(this.work),
      cache,
    ).catch((error: unknown) => ({
      ok: false,
      summary: `FAIL: the check itself failed: ${error instanceof Error ? error.message : String(error)}`,
      problems: [],
    }))
    if (!verdict.ok)
      writeFileSync(
        path.join(
          this.options.dir,
          'log',
          `${this.options.id}-sync-r${round}-${run.replace(/\W+/g, '-')}.verify`,
        ),
        `${verdict.problems.join('\n')}\n`,
      )
    return verdict.summary
  }

  private append(row: SyncRow): void {
    const file = this.options.resultsFile
    if (!existsSync(file)) writeFileSync(file, `${TSV_COLUMNS.join('\t')}\n`)
    const values: Record<(typeof TSV_COLUMNS)[number], string> = {
      batch: this.options.id,
      scale: String(this.options.scale),
      round: String(row.round),
      share: String(row.share),
      run: row.run,
      wall_s: fmt(row.wallS, 2),
      client_cpu_s: fmt(row.clientCpuS, 2),
      src_cpu_s: fmt(row.srcCpuS, 2),
      tgt_cpu_s: fmt(row.tgtCpuS, 2),
      copy_bytes: String(row.copyBytes),
      wal_bytes: String(row.walBytes),
      others_cpu_s: fmt(row.othersCpuS, 2),
      exit: String(row.exit),
      verify: row.verify,
      notes: row.notes.join('; '),
      commit: this.options.commit,
    }
    appendFileSync(file, `${TSV_COLUMNS.map((c) => values[c].replace(/[\t\n]/g, ' ')).join('\t')}\n`)
  }

  /** The Markdown section of the case: every run as ratios to its round's replace, then the targets. */
  summary(): string {
    return summarizeSync(this.rows, this.dataset, this.options.scale)
  }
}

function readReport(file: string): JsonReport {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
  const start = text.indexOf('{')
  if (start < 0) return {}
  try {
    return JSON.parse(text.slice(start)) as JsonReport
  } catch {
    return {}
  }
}

const ratio = (x: number, of: number) => (of > 0 ? x / of : NaN)

export function summarizeSync(rows: readonly SyncRow[], dataset: Dataset | undefined, scale: number): string {
  const out: string[] = []
  out.push(
    `### sync, standard scale ${scale}` +
      (dataset ? `: ${dataset.tableMb} MB of table data + ${dataset.indexMb} MB of indexes` : '') +
      '\n',
    "After a full copy, each round changes the source (the share of every table's rows updated, spread over the key " +
      'range; 0.1 % of accounts, wide and documents deleted; 0.5 % inserted; then every table read once, which sets the ' +
      "written rows' hint bits as the source's own readers would), then runs, each after a CHECKPOINT of both " +
      'servers: `sync`; `sync` again with nothing changed; the same share changed again (other rows) and a `sync` with ' +
      '`changed: updated_at` on wide and settings (the other four tables have no such column and sync without a hint in ' +
      'that run; the nothing-changed run uses the same configuration, so that it records the marks the hinted sync ' +
      "starts from); `replace`. × = the run's figure / the figure of its round's replace (below 1: less). CPU = each " +
      "server's postgres processes (/proc); COPY MB = tablehaul's `bytes` (all COPY data that moved); WAL = " +
      'pg_current_wal_lsn() on the target before and after.\n',
  )
  out.push(
    '| round | changed | run | wall s | × wall | src CPU s | × src | tgt CPU s | × tgt | client CPU s | COPY MB | × COPY | target WAL MB | × WAL | check | notes |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  )
  const rounds = [...new Set(rows.map((r) => r.round))]
  for (const round of rounds) {
    const inRound = rows.filter((r) => r.round === round)
    const replace = inRound.find((r) => r.run === 'replace')
    for (const r of inRound) {
      const x = (pick: (row: SyncRow) => number, digits = 2) =>
        replace ? fmt(ratio(pick(r), pick(replace)), digits) : '–'
      out.push(
        `| ${round} | ${r.share * 100} % | ${r.run} | ${fmt(r.wallS, 2)} | **${x((y) => y.wallS)}** | ${fmt(r.srcCpuS, 2)} | ${x((y) => y.srcCpuS)} | ` +
          `${fmt(r.tgtCpuS, 2)} | ${x((y) => y.tgtCpuS)} | ${fmt(r.clientCpuS, 2)} | ${fmt(r.copyBytes / 1048576, 1)} | ${x((y) => y.copyBytes, 3)} | ` +
          `${fmt(r.walBytes / 1048576, 1)} | ${x((y) => y.walBytes, 3)} | ${r.verify} | ${r.notes.length ? r.notes.join('; ') : ''} |`,
      )
    }
  }
  out.push('', ...syncTargets(rows), '')
  return out.join('\n')
}

/** The targets next to the measured ratios (medians over the rounds of that share): figures, not assertions. */
export function syncTargets(rows: readonly SyncRow[]): string[] {
  const ratios = (run: SyncRun, share: number | undefined, pick: (r: SyncRow) => number) => {
    const values: number[] = []
    for (const r of rows.filter(
      (x) => x.run === run && (share === undefined || x.share === share) && x.exit === 0,
    )) {
      const replace = rows.find((x) => x.round === r.round && x.run === 'replace' && x.exit === 0)
      if (replace) values.push(ratio(pick(r), pick(replace)))
    }
    return values
  }
  const targets: Array<{ what: string; values: number[]; limit: number }> = [
    { what: '1 % changed: sync wall time', values: ratios('sync', 0.01, (r) => r.wallS), limit: 0.25 },
    {
      what: '1 % changed: sync with `changed:` wall time',
      values: ratios('sync with changed:', 0.01, (r) => r.wallS),
      limit: 0.1,
    },
    {
      what: 'nothing changed: sync wall time (every round)',
      values: ratios('sync, nothing changed', undefined, (r) => r.wallS),
      limit: 0.15,
    },
    { what: '1 % changed: sync target WAL', values: ratios('sync', 0.01, (r) => r.walBytes), limit: 0.05 },
    { what: '50 % changed: sync wall time', values: ratios('sync', 0.5, (r) => r.wallS), limit: 1.1 },
    {
      what: '50 % changed: sync with `changed:` wall time',
      values: ratios('sync with changed:', 0.5, (r) => r.wallS),
      limit: 1.1,
    },
  ]
  const lines = [
    "Issue #13's targets (× the same round's replace; median over the rounds, min–max when several):\n",
    '| target | limit | measured | |',
    '|---|---|---|---|',
  ]
  for (const t of targets) {
    const m = median(t.values)
    const range =
      t.values.length > 1 ? ` (${fmt(Math.min(...t.values), 2)}–${fmt(Math.max(...t.values), 2)})` : ''
    const verdict = Number.isFinite(m) ? (m <= t.limit ? 'met' : '**not met**') : 'not measured'
    lines.push(`| ${t.what} | ≤ ${t.limit} × | ${fmt(m, 3)}${range} | ${verdict} |`)
  }
  return lines
}
