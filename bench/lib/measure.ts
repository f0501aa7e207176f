// One measured run of one method: wall time, client CPU and peak RSS (/usr/bin/time around the method and
// everything it starts and waits for), the CPU of each server (/proc), what the rest of the machine used
// meanwhile, and per-phase figures.
import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { type ActivityKind, ActivitySampler } from './activity.js'
import type { Command } from './methods.js'
import { CpuSampler, loadAverage, machineBusySeconds, ownCpuSeconds } from './proc.js'
import type { BenchServer } from './clusters.js'

export const TIME_BINARY = '/usr/bin/time'

export interface Phase {
  readonly name: string
  readonly wallS: number
  readonly srcCpuS: number
  readonly tgtCpuS: number
}

/** A table as tablehaul reported it (`--json`). */
export interface TableFigure {
  readonly table: string
  readonly format: string
  readonly bytes: number
  readonly durationMs: number
  readonly status: string
}

export interface Measurement {
  readonly exitCode: number
  readonly timedOut: boolean
  readonly wallS: number
  readonly userS: number
  readonly sysS: number
  readonly maxRssKb: number
  readonly srcCpuS: number
  readonly tgtCpuS: number
  /** CPU seconds the rest of the machine (other people's work) used during the run. */
  readonly othersCpuS: number
  /** 1-minute load average when the run started. */
  readonly load1: number
  readonly phases: readonly Phase[]
  readonly tables: readonly TableFigure[]
  /** Seconds of target backend activity by kind of statement (see ActivitySampler). */
  readonly activity: ReadonlyMap<ActivityKind, number>
  /** The method's stdout + stderr. */
  readonly logFile: string
}

export interface MeasureOptions {
  readonly command: Command
  readonly env: Readonly<Record<string, string>>
  readonly workDir: string
  readonly logFile: string
  readonly source: BenchServer
  readonly target: BenchServer
  /** The database the method writes on the target. */
  readonly database: string
  readonly timeoutS: number
  /** Aborting kills the method and everything it started. */
  readonly signal?: AbortSignal
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function measure(options: MeasureOptions): Promise<Measurement> {
  const { command, source, target } = options
  const timeFile = path.join(options.workDir, 'time.out')
  const stdoutFile = path.join(options.workDir, 'stdout')
  const out = openSync(stdoutFile, 'w')
  const err = openSync(options.logFile, 'w')
  const load1 = loadAverage()
  const sampler = new CpuSampler(source.postmasterPid, target.postmasterPid)
  const activityClient = target.client('postgres')
  await activityClient.connect()
  const activity = new ActivitySampler(activityClient, options.database)
  const before = {
    src: source.cpuSeconds(),
    tgt: target.cpuSeconds(),
    machine: machineBusySeconds(),
    own: ownCpuSeconds(),
  }
  sampler.start()
  activity.start()
  const startedAt = Date.now()
  let timedOut = false
  const exitCode = await new Promise<number>((resolve, reject) => {
    const child = spawn(
      TIME_BINARY,
      ['-f', '%e %U %S %M', '-o', timeFile, '--', command.file, ...command.args],
      {
        cwd: options.workDir,
        env: { ...options.env, ...command.env },
        stdio: ['ignore', out, err],
        // its own process group: a run past its time is killed with everything it started
        detached: true,
      },
    )
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // the group is gone already
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      kill()
    }, options.timeoutS * 1000)
    options.signal?.addEventListener('abort', kill, { once: true })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', kill)
      resolve(code ?? (signal ? 128 : 1))
    })
  })
  const endedAt = Date.now()
  const activitySeconds = await activity.stop()
  await activityClient.end()
  closeSync(out)
  closeSync(err)
  // let the postmasters reap their backends, so that their CPU lands in cutime/cstime
  await sleep(500)
  sampler.stop()
  const after = {
    src: source.cpuSeconds(),
    tgt: target.cpuSeconds(),
    machine: machineBusySeconds(),
    own: ownCpuSeconds(),
  }
  const times = existsSync(timeFile)
    ? readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ')
    : []
  const [wallS, userS, sysS, maxRssKb] = [0, 1, 2, 3].map((i) => Number(times[i] ?? NaN)) as [
    number,
    number,
    number,
    number,
  ]
  const srcCpuS = after.src - before.src
  const tgtCpuS = after.tgt - before.tgt
  const othersCpuS =
    after.machine - before.machine - srcCpuS - tgtCpuS - (userS + sysS) - (after.own - before.own)

  const stdout = readFileSync(stdoutFile, 'utf8')
  const runnerLog = readFileSync(options.logFile, 'utf8')
  const tablehaulLogs = path.join(options.workDir, 'logs')
  const marks = existsSync(tablehaulLogs) ? tablehaulSteps(tablehaulLogs) : runnerMarks(runnerLog)
  const phases = toPhases(marks, endedAt, sampler)
  return {
    exitCode: timedOut ? 124 : exitCode,
    timedOut,
    wallS: Number.isFinite(wallS) ? wallS : (endedAt - startedAt) / 1000,
    userS,
    sysS,
    maxRssKb,
    srcCpuS,
    tgtCpuS,
    othersCpuS: Math.max(0, othersCpuS),
    load1,
    phases,
    tables: tablehaulTables(stdout),
    activity: activitySeconds,
    logFile: options.logFile,
  }
}

interface Mark {
  readonly name: string
  readonly at: number
}

/** "PHASE name epoch-seconds" lines the peer runners print (bench/runners/common.sh). */
function runnerMarks(log: string): Mark[] {
  return [...log.matchAll(/^PHASE (\S+) ([\d.]+)$/gm)].map((m) => ({ name: m[1]!, at: Number(m[2]) * 1000 }))
}

/** tablehaul's steps, from the `step.started` records of its NDJSON run log. */
function tablehaulSteps(dir: string): Mark[] {
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .sort()
    .at(-1)
  if (!file) return []
  const marks: Mark[] = []
  for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n')) {
    if (!line) continue
    const record = JSON.parse(line) as { event?: string; step?: string; time?: string }
    if (record.event === 'step.started' && record.step && record.time)
      marks.push({ name: record.step, at: Date.parse(record.time) })
    if (record.event === 'run.finished' && record.time)
      marks.push({ name: 'end', at: Date.parse(record.time) })
  }
  return marks
}

function toPhases(marks: readonly Mark[], endedAt: number, sampler: CpuSampler): Phase[] {
  const phases: Phase[] = []
  marks.forEach((mark, i) => {
    if (mark.name === 'end') return
    const until = marks[i + 1]?.at ?? endedAt
    const cpu = sampler.between(mark.at, until)
    phases.push({ name: mark.name, wallS: (until - mark.at) / 1000, srcCpuS: cpu.src, tgtCpuS: cpu.tgt })
  })
  return phases
}

function tablehaulTables(stdout: string): TableFigure[] {
  const start = stdout.indexOf('{')
  if (start < 0) return []
  try {
    const report = JSON.parse(stdout.slice(start)) as { tables?: TableFigure[] }
    return (report.tables ?? []).map(({ table, format, bytes, durationMs, status }) => ({
      table,
      format,
      bytes,
      durationMs,
      status,
    }))
  } catch {
    return []
  }
}
