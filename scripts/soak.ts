// Soak: many consecutive CLI runs of many tables with a fault injected every few runs, checking after
// each run that nothing leaked or grew and that the log and the e-mail told the truth. Not part of npm test.
//
//   node --import tsx scripts/soak.ts [runs=100] [tables=300] [faultEvery=3]
//
// Faults, in turn: the target restarts mid-run (immediate stop, start), a source table is locked ACCESS
// EXCLUSIVE for the whole run, a target table's trigger stalls its COPY past timeouts.stall, SIGTERM
// mid-run. After each run: no client backend left on either server (pg_stat_activity), tablehaul.runs and
// copied_tables, the .ndjson logs and the .eml files within log.keepRuns, and the exit code, the log's
// run.finished and the newest e-mail's subject agree with the fault injected.
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { spawnCli, waitFor } from '../test/helpers/cli.js'
import { tempDir } from '../test/helpers/config.js'
import { TestServer, withClient } from '../test/helpers/servers.js'

const [runs = 100, tableCount = 300, faultEvery = 3] = process.argv.slice(2).map(Number)
const KEEP_RUNS = 10
const FAULTS = ['restart', 'lock', 'stall', 'signal'] as const
type Fault = (typeof FAULTS)[number] | 'none'

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
  const config = path.join(dir, 'tablehaul.yaml')
  await import('node:fs').then((fs) =>
    fs.writeFileSync(
      config,
      [
        `source: { url: "${source.url}" }`,
        `target: { url: "${target.url}" }`,
        `tables: [public.*]`,
        `jobs: 4`,
        `retry: { attempts: 5, backoff: 500ms }`,
        `timeouts: { connect: 5s, lock: 2s, stall: 3s }`,
        `log: { dir: "${logs}", keepRuns: ${KEEP_RUNS} }`,
        `email: { outbox: "${outbox}", to: [dba@example.com], attachLog: never }`,
      ].join('\n'),
    ),
  )
  const started = Date.now()
  const tally: Record<string, number> = {}
  for (let run = 1; run <= runs; run++) {
    const fault: Fault = run % faultEvery === 0 ? FAULTS[(run / faultEvery - 1) % FAULTS.length]! : 'none'
    const outcome = await oneRun(config, fault)
    const problems = await check(outcome, fault)
    tally[fault] = (tally[fault] ?? 0) + 1
    console.log(
      `run ${run}/${runs} fault=${fault} exit=${outcome.code} status=${outcome.status} copied=${outcome.copied} ${Math.round(outcome.ms / 1000)}s ${problems.length ? `PROBLEMS: ${problems.join('; ')}` : 'ok'}`,
    )
    if (problems.length) exitCode = 1
  }
  const totals = await withClient(target.url, (c) =>
    c.query<{ runs: string; copied: string }>(
      `SELECT (SELECT count(*) FROM tablehaul.runs) AS runs, (SELECT count(*) FROM tablehaul.copied_tables) AS copied`,
    ),
  )
  console.log(
    `done: ${runs} runs of ${tableCount} tables in ${Math.round((Date.now() - started) / 1000)}s; faults ${JSON.stringify(tally)}; target keeps ${totals.rows[0]!.runs} runs and ${totals.rows[0]!.copied} copied_tables rows; ${readdirSync(logs).length} files in logs/, ${readdirSync(outbox).length} in outbox/; ${exitCode ? 'PROBLEMS FOUND' : 'no problem found'}`,
  )
} finally {
  await Promise.all([source.destroy(), target.destroy()])
}
process.exit(exitCode)

interface Outcome {
  code: number
  status: string | undefined
  copied: number
  ms: number
  lockedTable?: string
}

async function oneRun(config: string, fault: Fault): Promise<Outcome> {
  const startedAt = Date.now()
  let locker: pg.Client | undefined
  const lockedTable = `t${1 + Math.floor(Math.random() * tableCount)}`
  if (fault === 'lock') {
    locker = new pg.Client({ connectionString: source.url })
    await locker.connect()
    await locker.query(`BEGIN; LOCK TABLE public.${lockedTable} IN ACCESS EXCLUSIVE MODE`)
  }
  if (fault === 'stall') {
    await withClient(target.url, (c) =>
      c.query(`CREATE TABLE IF NOT EXISTS public.${lockedTable} (id int PRIMARY KEY, pad text);
               CREATE OR REPLACE FUNCTION public.soak_stall() RETURNS trigger LANGUAGE plpgsql AS
                 'BEGIN PERFORM pg_sleep(10); RETURN NEW; END';
               CREATE TRIGGER soak_stall BEFORE INSERT ON public.${lockedTable}
                 FOR EACH STATEMENT EXECUTE FUNCTION public.soak_stall()`),
    )
  }
  const before = new Set(existsOr(logs))
  const cli = spawnCli(['run', '--config', config], { cwd: dir })
  const copiedSoFar = () => {
    const file = existsOr(logs).find((f) => f.endsWith('.ndjson') && !before.has(f))
    if (!file) return 0
    return readFileSync(path.join(logs, file), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"table.copied"')).length
  }
  if (fault === 'restart' || fault === 'signal') {
    await waitFor(() => copiedSoFar() >= 20 || cli.child.exitCode !== null, 300_000, '20 tables copied')
    if (fault === 'restart') {
      await target.stop('immediate')
      await target.restart()
    } else cli.child.kill('SIGTERM')
  }
  const result = await cli.done
  if (locker) await locker.end()
  if (fault === 'stall')
    await withClient(target.url, (c) => c.query(`DROP TRIGGER IF EXISTS soak_stall ON public.${lockedTable}`))
  const file = existsOr(logs).find((f) => f.endsWith('.ndjson') && !before.has(f))
  const records = file
    ? readFileSync(path.join(logs, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : []
  const finished = records.find((r) => r.event === 'run.finished')
  return {
    code: result.code,
    status: finished?.status as string | undefined,
    copied: records.filter((r) => r.event === 'table.copied').length,
    ms: Date.now() - startedAt,
    lockedTable: fault === 'lock' || fault === 'stall' ? `public.${lockedTable}` : undefined,
  }
}

async function check(outcome: Outcome, fault: Fault): Promise<string[]> {
  const problems: string[] = []
  const expected: Record<Fault, { status: string; code: number }> = {
    none: { status: 'succeeded', code: 0 },
    restart: { status: 'succeeded', code: 0 },
    lock: { status: 'failed', code: 1 },
    stall: { status: 'failed', code: 1 },
    signal: { status: 'interrupted', code: 130 },
  }
  const want = expected[fault]
  if (outcome.status !== want.status) problems.push(`log says ${outcome.status}, expected ${want.status}`)
  if (outcome.code !== want.code) problems.push(`exit ${outcome.code}, expected ${want.code}`)
  for (const [name, server] of [
    ['source', source],
    ['target', target],
  ] as const) {
    // Backends end a moment after their client closes: waited for, not assumed.
    const left = await waitFor(
      async () => (await clientBackends(server.url)) === 0,
      10_000,
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
  const { runs: keptRuns, copied } = kept.rows[0]!
  if (keptRuns > KEEP_RUNS) problems.push(`${keptRuns} runs recorded on the target`)
  if (copied > KEEP_RUNS * tableCount) problems.push(`${copied} copied_tables rows`)
  const ndjson = existsOr(logs).filter((f) => f.endsWith('.ndjson')).length
  const mails = existsOr(outbox)
    .filter((f) => f.endsWith('.eml'))
    .sort()
  if (ndjson > KEEP_RUNS) problems.push(`${ndjson} run logs`)
  if (mails.length > KEEP_RUNS) problems.push(`${mails.length} e-mails in the outbox`)
  const newest = mails.at(-1)
  const subject = newest
    ? (/^Subject: (.*)$/m.exec(readFileSync(path.join(outbox, newest), 'utf8'))?.[1] ?? '')
    : ''
  const label = { succeeded: 'OK', failed: 'FAILED', interrupted: 'INTERRUPTED' }[want.status]
  if (!subject.includes(`[tablehaul] ${label}`)) problems.push(`newest e-mail says "${subject}"`)
  return problems
}

async function clientBackends(url: string): Promise<number> {
  const { rows } = await withClient(url, (c) =>
    c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    ),
  )
  return rows[0]!.n
}

function existsOr(folder: string): string[] {
  try {
    return readdirSync(folder)
  } catch {
    return []
  }
}
