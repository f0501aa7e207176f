// Soak: many consecutive CLI runs of many tables with a fault injected every few runs, checking after
// each run that the fault took effect, that nothing leaked or grew, and that the exit code, the log, the
// e-mail and the target's rows tell the same, true story. Not part of npm test.
//
//   npm run build && nice -n 10 node --import tsx scripts/soak.ts [runs=100] [tables=300] [faultEvery=3] [faults=restart,lock,stall,signal]
//
// Every run first changes each source table (rows added and removed), so a table that was not copied is
// told apart from one that was. Faults, in turn, every `faultEvery` runs:
//   restart  the target stops (immediate: a crash) and starts again while the run is copying;
//   lock     a source table is locked ACCESS EXCLUSIVE for the whole run: it must fail with TABLE_LOCKED;
//   stall    a target table's CHECK constraint sleeps in its COPY longer than timeouts.stall: the watchdog
//            must fail it with COPY_STALLED (triggers would be switched off by the copy, a CHECK is not);
//   signal   SIGTERM while the run is copying: the run must end interrupted, exit 130.
// After each run: the run's exit code, its log (run.finished and the table events), its e-mail (found by
// its run id, parsed as MIME) and its record in tablehaul.runs agree; every table reported copied holds
// exactly the source's rows, every other one its previous rows; tablehaul.copied_tables holds this run's
// copied tables; no client backend is left on either server; tablehaul.runs, copied_tables, the .ndjson
// logs and the .eml files stay within log.keepRuns.
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { simpleParser } from 'mailparser'
import pg from 'pg'
import { ROOT, staleBuild, waitFor } from '../test/helpers/cli.js'
import { tempDir } from '../test/helpers/config.js'
import { TestServer, withClient } from '../test/helpers/servers.js'
import type { RunReport, TableResult } from '../src/report/run-report.js'

const [runs = 100, tableCount = 300, faultEvery = 3] = process.argv.slice(2, 5).map(Number)
const KEEP_RUNS = 10
const STALL_MS = 3_000
/**
 * How long the stalled table's CHECK function sleeps (SOAK_STALL_SLEEP seconds): longer than timeouts.stall.
 * A sleep far longer than the stall and retry times shows whether an abandoned backend outlives its attempt.
 */
const STALL_SLEEP_S = Number(process.env.SOAK_STALL_SLEEP ?? 5)
const FAULT_KINDS = ['restart', 'lock', 'stall', 'signal'] as const
type Fault = (typeof FAULT_KINDS)[number] | 'none'
/** The faults to inject, in turn: all four, or those named by a fourth argument (`restart,stall`). */
const FAULTS = (process.argv[5]?.split(',') ?? FAULT_KINDS) as (typeof FAULT_KINDS)[number][]
if (FAULTS.some((f) => !FAULT_KINDS.includes(f))) throw new Error(`faults: ${FAULT_KINDS.join(', ')}`)
const EXPECTED_CODE: Record<RunReport['status'], number> = { succeeded: 0, failed: 1, interrupted: 130 }
const LABEL: Record<RunReport['status'], string> = {
  succeeded: 'OK',
  failed: 'FAILED',
  interrupted: 'INTERRUPTED',
}

const stale = staleBuild()
if (stale) {
  console.error(`${stale}: the soak runs bin/tablehaul.js (dist/), as cron would`)
  process.exit(2)
}

const [source, target] = await Promise.all([TestServer.start('soak-source'), TestServer.start('soak-target')])
const dir = tempDir('tablehaul-soak-')
const logs = path.join(dir, 'logs')
const outbox = path.join(dir, 'outbox')
let exitCode = 0
try {
  await withClient(source.url, (c) =>
    c.query(`DO $$ BEGIN FOR i IN 1..${tableCount} LOOP
      EXECUTE format('CREATE TABLE public.t%s (id int PRIMARY KEY, pad text)', i);
      EXECUTE format('INSERT INTO public.t%s SELECT g, repeat(''x'', 100) FROM generate_series(1, 200) g', i);
    END LOOP; END $$; ANALYZE`),
  )
  await withClient(target.url, (c) =>
    c.query(`CREATE FUNCTION public.soak_stall(id int) RETURNS boolean LANGUAGE plpgsql AS
               'BEGIN IF id = 1 THEN PERFORM pg_sleep(${STALL_SLEEP_S}); END IF; RETURN true; END'`),
  )
  const config = path.join(dir, 'tablehaul.yaml')
  writeFileSync(
    config,
    [
      `source: { url: "${source.url}" }`,
      `target: { url: "${target.url}" }`,
      `tables: [public.*]`,
      `jobs: 4`,
      `retry: { attempts: 3, backoff: 500ms }`,
      `timeouts: { connect: 5s, lock: 2s, stall: ${STALL_MS}ms }`,
      `log: { dir: "${logs}", keepRuns: ${KEEP_RUNS} }`,
      `email: { outbox: "${outbox}", to: [dba@example.com], attachLog: never }`,
    ].join('\n'),
  )
  const connectionsBefore = `source ${await clientBackends(source.url)}, target ${await clientBackends(target.url)}`
  const started = Date.now()
  const faults: Record<string, number> = {}
  const statuses: Record<string, number> = {}
  let failedRuns = 0
  for (let run = 1; run <= runs; run++) {
    const fault: Fault = run % faultEvery === 0 ? FAULTS[(run / faultEvery - 1) % FAULTS.length]! : 'none'
    const problems: string[] = []
    const outcome = await oneRun(run, config, fault, problems)
    await check(outcome, problems)
    faults[fault] = (faults[fault] ?? 0) + 1
    const report = outcome.report
    statuses[report?.status ?? 'none'] = (statuses[report?.status ?? 'none'] ?? 0) + 1
    const t = report?.totals
    console.log(
      `run ${run}/${runs} fault=${fault} exit=${outcome.code} status=${report?.status} copied=${t?.copied} failed=${t?.failed} notStarted=${t?.notStarted} retries=${outcome.retries} ${Math.round(outcome.ms / 1000)}s ${outcome.evidence} ${problems.length ? `PROBLEMS: ${problems.join('; ')}` : 'ok'}`,
    )
    if (problems.length) {
      exitCode = 1
      failedRuns++
    }
  }
  const sizes = await withClient(target.url, (c) =>
    c.query<{ name: string; rows: string; bytes: string }>(
      `SELECT c.relname AS name, c.reltuples::bigint AS rows, pg_total_relation_size(c.oid) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'tablehaul' AND c.relkind = 'r' ORDER BY 1`,
    ),
  )
  const counts = await withClient(target.url, (c) =>
    c.query<{ runs: number; copied: number }>(
      `SELECT (SELECT count(*) FROM tablehaul.runs)::int AS runs, (SELECT count(*) FROM tablehaul.copied_tables)::int AS copied`,
    ),
  )
  const connectionsAfter = `source ${await clientBackends(source.url)}, target ${await clientBackends(target.url)}`
  console.log(
    [
      `done: ${runs} runs of ${tableCount} tables in ${Math.round((Date.now() - started) / 1000)}s`,
      `faults ${JSON.stringify(faults)}; statuses ${JSON.stringify(statuses)}`,
      `client backends before: ${connectionsBefore}; after: ${connectionsAfter}`,
      `target keeps ${counts.rows[0]!.runs} tablehaul.runs rows and ${counts.rows[0]!.copied} copied_tables rows; sizes ${sizes.rows.map((r) => `${r.name} ${Math.round(Number(r.bytes) / 1024)} kB`).join(', ')}`,
      `logs/: ${folderSummary(logs)}; outbox/: ${folderSummary(outbox)}`,
      failedRuns ? `PROBLEMS FOUND in ${failedRuns} run(s)` : 'no problem found',
    ].join('\n'),
  )
} finally {
  await Promise.all([source.destroy(), target.destroy()])
  // The logs and e-mails are kept to look at when something was found.
  if (exitCode === 0) rmSync(dir, { recursive: true, force: true })
  else console.log(`logs and outbox kept in ${dir}`)
}
process.exit(exitCode)

interface Outcome {
  run: number
  fault: Fault
  code: number
  ms: number
  report: RunReport | undefined
  records: Record<string, unknown>[]
  sourceRows: Map<string, Contents>
  targetRowsBefore: Map<string, Contents>
  retries: number
  /** What shows the fault took effect, for the output. */
  evidence: string
}

async function oneRun(run: number, config: string, fault: Fault, problems: string[]): Promise<Outcome> {
  // Rows added and removed on every table: a table that is not copied no longer matches the source.
  await withClient(source.url, (c) =>
    c.query(`DO $$ BEGIN FOR i IN 1..${tableCount} LOOP
      EXECUTE format('INSERT INTO public.t%s SELECT g, repeat(''y'', 100) FROM generate_series(${1000 + run * 3}, ${1000 + run * 3 + (run % 3)}) g', i);
      EXECUTE format('DELETE FROM public.t%s WHERE id = ${run + 1}', i);
    END LOOP; END $$`),
  )
  const sourceRows = await contents(source.url)
  const targetRowsBefore = await contents(target.url)
  const startedAt = Date.now()
  const victim = `t${1 + Math.floor(Math.random() * tableCount)}`
  let evidence = ''
  let locker: pg.Client | undefined
  if (fault === 'lock') {
    locker = new pg.Client({ connectionString: source.url })
    await locker.connect()
    await locker.query(`BEGIN; LOCK TABLE public.${victim} IN ACCESS EXCLUSIVE MODE`)
  }
  if (fault === 'stall') {
    // NOT VALID: the rows already there are not checked (that would sleep now); every row a COPY writes is.
    await withClient(target.url, (c) =>
      c.query(
        `ALTER TABLE public.${victim} ADD CONSTRAINT soak_stall CHECK (public.soak_stall(id)) NOT VALID`,
      ),
    )
  }
  const before = new Set(existsOr(logs))
  const logFile = () => existsOr(logs).find((f) => f.endsWith('.ndjson') && !before.has(f))
  const readRecords = () => {
    const file = logFile()
    if (!file) return []
    return readFileSync(path.join(logs, file), 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>]
        } catch {
          return [] // a line being written
        }
      })
  }
  const cli = spawnBin(['run', '--config', config])
  if (fault === 'restart' || fault === 'signal') {
    const copied = () => readRecords().filter((r) => r.event === 'table.copied').length
    await waitFor(() => copied() >= 20 || cli.child.exitCode !== null, 300_000, '20 tables copied')
    const atFault = readRecords()
    const copiedAtFault = atFault.filter((r) => r.event === 'table.copied').length
    const midRun = cli.child.exitCode === null && !atFault.some((r) => r.event === 'run.finished')
    if (!midRun) problems.push(`fault ${fault} not injected: the run had ended`)
    if (fault === 'restart') {
      const startTime = () =>
        withClient(target.url, (c) =>
          c.query<{ t: string }>(`SELECT pg_postmaster_start_time()::text AS t`).then((r) => r.rows[0]!.t),
        )
      const was = await startTime()
      await target.stop('immediate')
      await target.restart()
      const now = await startTime()
      if (now === was) problems.push('the target did not restart')
      evidence = `restarted after ${copiedAtFault} tables copied`
    } else {
      cli.child.kill('SIGTERM')
      evidence = `SIGTERM after ${copiedAtFault} tables copied`
    }
  }
  const result = await cli.done
  if (locker) await locker.end()
  if (fault === 'stall') {
    // The stalled backend sleeps on after the watchdog closed its connection, holding the table's lock.
    await withClient(target.url, (c) =>
      c.query(
        `SET lock_timeout = '${STALL_SLEEP_S + 30}s'; ALTER TABLE public.${victim} DROP CONSTRAINT soak_stall`,
      ),
    )
  }
  const records = readRecords()
  // run.finished carries the report without its tables, which are the table.copied/failed/skipped records.
  const finished = records.find((r) => r.event === 'run.finished')
  const report = finished
    ? ({
        ...finished,
        runId: finished.runId,
        tables: records.filter((r) => /^table\.(copied|failed|skipped)$/.test(String(r.event))),
      } as unknown as RunReport)
    : undefined
  const retries = records.filter((r) => r.event === 'table.retrying')
  if (fault === 'lock' || fault === 'stall') {
    const table = report?.tables.find((t) => t.table === `public.${victim}`)
    const want = fault === 'lock' ? 'TABLE_LOCKED' : 'COPY_STALLED'
    const codes = [
      table?.error?.code,
      ...retries
        .filter((r) => r.table === `public.${victim}`)
        .map((r) => (r.error as { code?: string } | undefined)?.code),
    ]
    evidence = `public.${victim} ${table?.status} (${codes.filter(Boolean).join(', ')})`
    if (table?.status !== 'failed') problems.push(`public.${victim} was not reported failed`)
    if (fault === 'lock' && table?.error?.code !== want)
      problems.push(`public.${victim} failed without ${want}`)
    if (fault === 'stall' && !codes.includes(want)) problems.push(`public.${victim} never reported ${want}`)
    const others = report?.tables.filter((t) => t.table !== `public.${victim}` && t.status !== 'copied') ?? []
    if (others.length) problems.push(`other tables not copied: ${others.map((t) => t.table).join(', ')}`)
  }
  // Why tables failed, in short: codes and counts, and the first message.
  const failures = report?.tables.filter((t) => t.status === 'failed') ?? []
  if (failures.length) {
    const codes = new Map<string, number>()
    for (const t of failures) codes.set(t.error?.code ?? '?', (codes.get(t.error?.code ?? '?') ?? 0) + 1)
    const first = failures[0]!.error?.message.slice(0, 140) ?? ''
    evidence += `; failed: ${[...codes].map(([code, n]) => `${code}×${n}`).join(', ')} ("${first}")`
  }
  if (fault === 'signal' && report?.status !== 'interrupted')
    problems.push(`SIGTERM did not interrupt the run (${report?.status})`)
  if (fault === 'none' && report?.status !== 'succeeded')
    problems.push(`a run without fault ${report?.status}`)
  return {
    run,
    fault,
    code: result.code,
    ms: Date.now() - startedAt,
    report,
    records,
    sourceRows,
    targetRowsBefore,
    retries: retries.length,
    evidence,
  }
}

async function check(outcome: Outcome, problems: string[]): Promise<void> {
  const { report } = outcome
  if (!report) {
    problems.push(`no run.finished in the log (exit ${outcome.code})`)
    return
  }
  // The exit code and the log's status.
  if (outcome.code !== EXPECTED_CODE[report.status])
    problems.push(`exit ${outcome.code} for a ${report.status} run`)
  const by = (status: TableResult['status']) => report.tables.filter((t) => t.status === status)
  const [copied, failed, skipped] = [by('copied'), by('failed'), by('skipped')]
  if (report.tables.length !== tableCount) problems.push(`${report.tables.length} tables in the log`)
  const totals = report.totals
  if (totals.copied !== copied.length || totals.failed !== failed.length || totals.skipped !== skipped.length)
    problems.push(`totals ${JSON.stringify(totals)} disagree with the tables' statuses`)
  const claimed =
    report.status === 'succeeded'
      ? copied.length === tableCount && !report.error
      : report.status === 'failed'
        ? failed.length > 0 || report.error !== undefined
        : outcome.fault === 'signal'
  if (!claimed) problems.push(`status ${report.status} with ${copied.length} copied, ${failed.length} failed`)
  // One final record per table in the log (run.finished's totals were checked against them above).
  const names = new Set(report.tables.map((t) => t.table))
  if (names.size !== report.tables.length) problems.push(`a table has more than one final record in the log`)
  // The truth on the target: copied tables hold the source's rows (count and sum of ids: every run changes
  // both), the others their previous rows; a table failed with COMMIT_OUTCOME_UNKNOWN holds either.
  const after = await contents(target.url)
  const wrong: string[] = []
  const committedUnknown = new Set<string>()
  for (const table of report.tables) {
    const name = table.table.replace(/^public\./, '')
    const now = after.get(name)
    const fromSource = outcome.sourceRows.get(name)
    const before = outcome.targetRowsBefore.get(name)
    const isSource = now !== undefined && now.fingerprint === fromSource?.fingerprint
    const isBefore = before ? now?.fingerprint === before.fingerprint : !now || now.rows === 0
    if (table.status === 'copied') {
      if (!isSource || table.rows !== now.rows)
        wrong.push(
          `${table.table} copied: ${now?.fingerprint} on the target, ${fromSource?.fingerprint} on the source, ${table.rows} rows reported`,
        )
    } else if (table.status === 'failed' && table.error?.code === 'COMMIT_OUTCOME_UNKNOWN') {
      if (isSource) committedUnknown.add(table.table)
      else if (!isBefore) wrong.push(`${table.table} unknown: ${now?.fingerprint}, neither source nor before`)
    } else if (!isBefore) {
      wrong.push(`${table.table} ${table.status}: ${now?.fingerprint}, ${before?.fingerprint} before`)
    }
  }
  if (wrong.length)
    problems.push(`rows: ${wrong.slice(0, 3).join('; ')}${wrong.length > 3 ? ` (+${wrong.length - 3})` : ''}`)
  // The run's record on the target: its status, and a copied_tables row for exactly the tables it committed.
  const recorded = await withClient(target.url, async (c) => ({
    status: (
      await c.query<{ status: string }>(`SELECT status FROM tablehaul.runs WHERE run_id = $1`, [report.runId])
    ).rows[0]?.status,
    tables: (
      await c.query<{ t: string }>(
        `SELECT table_schema || '.' || table_name AS t FROM tablehaul.copied_tables WHERE run_id = $1`,
        [report.runId],
      )
    ).rows.map((r) => r.t),
  }))
  if (recorded.status !== report.status)
    problems.push(`tablehaul.runs says ${recorded.status}, the log ${report.status}`)
  const committed = new Set([...copied.map((t) => t.table), ...committedUnknown])
  const unexpected = recorded.tables.filter((t) => !committed.has(t))
  const missing = [...committed].filter((t) => !recorded.tables.includes(t))
  if (unexpected.length || missing.length)
    problems.push(
      `tablehaul.copied_tables of this run: ${unexpected.length} not reported copied (${unexpected.slice(0, 3).join(', ')}: ${unexpected
        .slice(0, 3)
        .map((t) => JSON.stringify(report.tables.find((r) => r.table === t)?.error?.code))
        .join(', ')}), ${missing.length} reported copied missing`,
    )
  if (committedUnknown.size) outcome.evidence += `; ${committedUnknown.size} COMMIT_OUTCOME_UNKNOWN committed`
  // The e-mail of this run: found by its run id, decoded by a MIME parser.
  await checkEmail(report, problems)
  // Nothing left behind, nothing unbounded.
  for (const [name, server] of [
    ['source', source],
    ['target', target],
  ] as const) {
    // Backends end a moment after their client closes (the stalled one when its sleep ends): waited for.
    const left = await waitFor(
      async () => (await clientBackends(server.url)) === 0,
      30_000,
      `${name} connections to close`,
    ).then(
      () => 0,
      async () => clientBackends(server.url),
    )
    if (left) problems.push(`${left} connection(s) left on the ${name}`)
  }
  const kept = await withClient(target.url, (c) =>
    c.query<{ runs: number; copied: number }>(
      `SELECT (SELECT count(*) FROM tablehaul.runs)::int AS runs, (SELECT count(*) FROM tablehaul.copied_tables)::int AS copied`,
    ),
  )
  const { runs: keptRuns, copied: keptCopied } = kept.rows[0]!
  if (keptRuns > KEEP_RUNS) problems.push(`${keptRuns} runs recorded on the target`)
  if (keptCopied > KEEP_RUNS * tableCount) problems.push(`${keptCopied} copied_tables rows`)
  const ndjson = existsOr(logs).filter((f) => f.endsWith('.ndjson')).length
  const mails = existsOr(outbox).filter((f) => f.endsWith('.eml')).length
  if (ndjson > KEEP_RUNS) problems.push(`${ndjson} run logs`)
  if (mails > KEEP_RUNS) problems.push(`${mails} e-mails in the outbox`)
}

async function checkEmail(report: RunReport, problems: string[]): Promise<void> {
  const mails = await Promise.all(
    existsOr(outbox)
      .filter((f) => f.endsWith('.eml'))
      .map((f) => simpleParser(readFileSync(path.join(outbox, f)))),
  )
  const mine = mails.filter((m) => m.headers.get('x-tablehaul-run-id') === report.runId)
  if (mine.length !== 1) {
    problems.push(`${mine.length} e-mails for run ${report.runId}`)
    return
  }
  const mail = mine[0]!
  const subject = mail.subject ?? ''
  const { totals } = report
  const phrase =
    report.status === 'succeeded'
      ? `${totals.copied}/${totals.tables} tables`
      : report.status === 'failed'
        ? totals.failed > 0
          ? `${totals.failed} of ${totals.tables} tables failed`
          : '' // a run-level failure: its own phrase
        : `${totals.copied} of ${totals.tables} tables copied`
  if (!subject.startsWith(`[tablehaul] ${LABEL[report.status]} · ${phrase}`))
    problems.push(`e-mail subject "${subject}" for a ${report.status} run (${JSON.stringify(totals)})`)
  if (mail.headers.get('x-tablehaul-status') !== report.status)
    problems.push(`e-mail X-Tablehaul-Status ${String(mail.headers.get('x-tablehaul-status'))}`)
  // The TABLES section of the plain text: one `STATUS  TABLE …` line per table.
  const text = mail.text ?? ''
  const shown = new Map<string, string>()
  for (const match of text.matchAll(/^ {2}(OK|FAILED|SKIPPED) +(public\.t\d+) /gm))
    shown.set(match[2]!, match[1]!)
  const mismatched = report.tables.filter(
    (t) => shown.get(t.table) !== { copied: 'OK', failed: 'FAILED', skipped: 'SKIPPED' }[t.status],
  )
  if (shown.size !== report.tables.length || mismatched.length)
    problems.push(
      `e-mail lists ${shown.size} tables, ${mismatched.length} with another status than the log (${mismatched
        .slice(0, 3)
        .map((t) => `${t.table}: ${shown.get(t.table)} vs ${t.status}`)
        .join(', ')})`,
    )
  const failedListed = /FAILED TABLES\n([\s\S]*?)\nTABLES\n/.exec(text)?.[1] ?? ''
  const failedNames = [...failedListed.matchAll(/^ {2}(public\.t\d+)$/gm)].map((m) => m[1]!)
  const failedReported = report.tables.filter((t) => t.status === 'failed').map((t) => t.table)
  if (failedNames.length !== failedReported.length || failedReported.some((t) => !failedNames.includes(t)))
    problems.push(
      `e-mail's FAILED TABLES (${failedNames.join(', ')}) vs the log (${failedReported.join(', ')})`,
    )
}

interface Contents {
  readonly rows: number
  /** Rows and the sum of their ids. */
  readonly fingerprint: string
}

/** Rows and the sum of ids of every public.t<N> table that exists on a server. */
async function contents(url: string): Promise<Map<string, Contents>> {
  const { rows } = await withClient(url, (c) =>
    c.query<{ name: string; n: number; s: string }>(
      `SELECT name, (xpath('/row/n/text()', x))[1]::text::int AS n, (xpath('/row/s/text()', x))[1]::text AS s
       FROM (SELECT c.relname AS name,
                    query_to_xml(format('SELECT count(*) AS n, coalesce(sum(id), 0) AS s FROM public.%I', c.relname), false, true, '') AS x
             FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
             WHERE ns.nspname = 'public' AND c.relkind = 'r' AND c.relname ~ '^t[0-9]+$') t`,
    ),
  )
  return new Map(rows.map((r) => [r.name, { rows: r.n, fingerprint: `${r.n} rows, ids sum ${r.s}` }]))
}

async function clientBackends(url: string): Promise<number> {
  const { rows } = await withClient(url, (c) =>
    c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    ),
  )
  return rows[0]!.n
}

/** bin/tablehaul.js as its own process, as cron runs it. */
function spawnBin(args: string[]) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'tablehaul.js'), ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const done = new Promise<{ code: number; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 + 15 : -1), stderr })),
  )
  return { child, done }
}

function folderSummary(folder: string): string {
  const files = existsOr(folder)
  const bytes = files.reduce((sum, f) => sum + statSync(path.join(folder, f)).size, 0)
  return `${files.length} files, ${Math.round(bytes / 1024)} kB`
}

function existsOr(folder: string): string[] {
  try {
    return readdirSync(folder)
  } catch {
    return []
  }
}
