// One bench batch: for each dataset, repetitions of every method (the baseline first), each from an empty
// target, measured, verified and appended to the results file.
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { BENCH_PASSWORD, type BenchServer } from './clusters.js'
import { CASES, type CaseName, type Dataset, ensureDataset } from './datasets.js'
import type { Machine } from './machine.js'
import { measure } from './measure.js'
import { BASELINE, METHODS, type MethodName, PROJECT_ROOT, type Tools } from './methods.js'
import { busyCores } from './proc.js'
import { type ResultRow, appendRow, encodeActivity, encodePhases, encodeTables, fmt } from './report.js'
import { verifyCopy } from './verify.js'

export interface BatchOptions {
  readonly id: string
  /** The bench folder (servers, work folders, logs, cached fingerprints). */
  readonly dir: string
  readonly source: BenchServer
  readonly target: BenchServer
  readonly cases: readonly CaseName[]
  readonly scales: readonly number[]
  readonly reps: number
  /** The methods that can run here, in summary order. */
  readonly methods: readonly MethodName[]
  readonly jobs: number
  readonly wal: string
  readonly verify: boolean
  readonly timeoutS: number
  readonly quietWaitS: number
  readonly quietBelow: number
  readonly tools: Tools & { clientDir?: string | undefined }
  readonly machine: Machine
  readonly machineLine: string
  readonly resultsFile: string
  readonly say: (line: string) => void
}

export class Batch {
  readonly rows: ResultRow[] = []

  constructor(private readonly options: BatchOptions) {}

  async run(signal: AbortSignal): Promise<ResultRow[]> {
    const { say, dir } = this.options
    for (const caseName of this.options.cases) {
      for (const scale of this.options.scales) {
        if (signal.aborted) return this.rows
        const needed = CASES[caseName].estimatedMb(scale) * 1048576 * 4 // source, target, WAL, a dump
        const stat = statfsSync(dir)
        if (stat.bavail * stat.bsize < needed) {
          say(
            `${caseName} at scale ${scale}: skipped, it needs about ${fmt(needed / 1e9)} GB free in ${dir} ` +
              `and ${fmt((stat.bavail * stat.bsize) / 1e9)} GB are`,
          )
          continue
        }
        const dataset = await ensureDataset(this.options.source, caseName, scale, say)
        say(
          `\n${caseName} scale ${scale} (${dataset.database}): ${dataset.tables} tables, ${dataset.tableMb} MB of ` +
            `table data + ${dataset.indexMb} MB of indexes, largest value ${fmt(dataset.largestValueBytes / 1048576, 2)} MB` +
            (dataset.generatedInS ? `; generated in ${fmt(dataset.generatedInS)} s` : ''),
        )
        await this.runDataset(dataset, signal)
        // leave the target empty: its disk is for the next dataset
        await this.options.target.recreateDatabase(dataset.database)
      }
    }
    return this.rows
  }

  private async runDataset(dataset: Dataset, signal: AbortSignal): Promise<void> {
    const { methods } = this.options
    const order = methods.includes(BASELINE) ? [BASELINE, ...methods.filter((m) => m !== BASELINE)] : methods
    for (let rep = 1; rep <= this.options.reps; rep++) {
      for (const method of order) {
        if (signal.aborted) return
        const row = await this.runOnce(method, rep, dataset, signal)
        this.rows.push(row)
        appendRow(this.options.resultsFile, row)
      }
    }
  }

  private async runOnce(
    method: MethodName,
    rep: number,
    dataset: Dataset,
    signal: AbortSignal,
  ): Promise<ResultRow> {
    const { source, target, dir, jobs } = this.options
    const workDir = path.join(dir, 'work', method)
    rmSync(workDir, { recursive: true, force: true })
    mkdirSync(workDir, { recursive: true })
    const logDir = path.join(dir, 'log')
    mkdirSync(logDir, { recursive: true })
    // every run from an empty target database, and neither server owing a checkpoint
    await target.recreateDatabase(dataset.database)
    await Promise.all([source.checkpoint(), target.checkpoint()])
    if (this.options.quietWaitS > 0) await this.waitQuiet()
    const context = {
      sourceUrl: source.url(dataset.database),
      targetUrl: target.url(dataset.database),
      jobs,
      workDir,
    }
    const result = await measure({
      command: METHODS[method].command(context),
      env: {
        ...this.environment(),
        SRC_URL: context.sourceUrl,
        TGT_URL: context.targetUrl,
        JOBS: String(jobs),
        WORK_DIR: workDir,
        PGAPPNAME: `bench-${method}`,
      },
      workDir,
      logFile: path.join(logDir, `${this.options.id}-${dataset.database}-r${rep}-${method}.log`),
      source,
      target,
      database: dataset.database,
      timeoutS: this.options.timeoutS,
      signal,
    })
    let verdict = result.exitCode === 0 ? 'not verified' : `not verified (exit ${result.exitCode})`
    if (result.exitCode === 0 && this.options.verify) {
      const check = await verifyCopy(
        source.connection(dataset.database),
        target.connection(dataset.database),
        // the name changes when the dataset is generated again with another size
        path.join(dir, `fingerprints-${dataset.database}-${Math.round(dataset.tableMb * 10)}.json`),
      ).catch((error: unknown) => {
        const problem = `the check itself failed: ${error instanceof Error ? error.message : String(error)}`
        return { ok: false, summary: `FAIL: ${problem}`, problems: [problem] }
      })
      verdict = check.summary
      if (!check.ok) writeFileSync(`${result.logFile}.verify`, `${check.problems.join('\n')}\n`)
    }
    if (result.exitCode !== 0) verdict = `${verdict}; see ${result.logFile}`
    this.options.say(
      `  rep ${rep} ${method.padEnd(15)} wall ${fmt(result.wallS, 2).padStart(7)} s  ` +
        `client CPU ${fmt(result.userS + result.sysS, 2).padStart(6)} s  src ${fmt(result.srcCpuS, 2).padStart(6)} s  ` +
        `tgt ${fmt(result.tgtCpuS, 2).padStart(6)} s  RSS ${fmt(result.maxRssKb / 1024, 0).padStart(4)} MB  ` +
        `others ${fmt(result.othersCpuS / result.wallS, 2)} cores  ${verdict}`,
    )
    return {
      batch: this.options.id,
      started_at: new Date().toISOString(),
      case: dataset.case,
      scale: String(dataset.scale),
      table_mb: String(dataset.tableMb),
      index_mb: String(dataset.indexMb),
      target_wal: this.options.wal,
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
      machine: this.options.machineLine,
      commit: this.options.machine.commit,
    }
  }

  private environment(): Record<string, string> {
    return benchEnvironment(this.options.tools.clientDir)
  }

  private async waitQuiet(): Promise<void> {
    const { quietWaitS, quietBelow } = this.options
    const until = Date.now() + quietWaitS * 1000
    let busy = await busyCores()
    while (busy >= quietBelow && Date.now() < until) busy = await busyCores()
    if (busy >= quietBelow)
      this.options.say(`  (the machine is still busy: ${fmt(busy, 2)} cores; running anyway)`)
  }

  /** The Markdown header of the batch's summary: the command, the machine, how to read the figures. */
  header(command: string): string {
    const { machine, tools } = this.options
    return [
      `## Bench batch ${this.options.id}`,
      '',
      `Command: \`${command}\``,
      '',
      `Machine: ${this.options.machineLine}; kernel ${machine.kernel}; load average at start ${machine.load}; ` +
        `pg ${machine.pgDriver}; clients ${tools.clients ?? '–'}; pgcopydb ${tools.pgcopydb ?? '–'}; ` +
        `tablehaul commit ${machine.commit}; jobs ${this.options.jobs}; raw rows: ` +
        `${path.relative(PROJECT_ROOT, this.options.resultsFile)} (batch ${this.options.id}).`,
      '',
      'Ratios are wall(method) / wall(reference) of the same repetition (below 1 is faster), median over the ' +
        'repetitions. Client CPU = user+sys of the method and every process it waited for (/usr/bin/time); ' +
        "src/tgt CPU = each server's postgres processes (/proc, exact); others' load = CPU the rest of the " +
        'machine used during the run, in cores; peak RSS = largest client process. GB = 1024 MB of table data ' +
        '(pg_table_size).',
      '',
    ].join('\n')
  }
}

/** The environment of every method: no stray PG* or TABLEHAUL_* settings, the password, the right tools first. */
export function benchEnvironment(clientDir: string | undefined): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(PG|TABLEHAUL_)/.test(key) || key.startsWith('npm_')) continue
    env[key] = value
  }
  env.PGPASSWORD = BENCH_PASSWORD
  if (clientDir) env.PATH = `${clientDir}:${env.PATH ?? ''}`
  return env
}
