// CPU accounting from /proc: what the PostgreSQL servers and the whole machine spent, which a client-side
// timer cannot see (a server's backends are children of its postmaster, not of the client).
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

interface ProcStat {
  readonly ppid: number
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly ticks: number
}

function readStat(pid: number | string): ProcStat | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined // the process ended meanwhile
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so cut after the last ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const n = (i: number) => Number(fields[i] ?? 0)
  return { ppid: n(1), ticks: n(11) + n(12) + n(13) + n(14) }
}

function childrenOf(pid: number): number[] | undefined {
  const file = `/proc/${pid}/task/${pid}/children`
  if (!existsSync(file)) return undefined
  try {
    return readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return undefined
  }
}

/**
 * CPU seconds a PostgreSQL server has used so far: its postmaster's own time, the time of the backends it
 * has reaped (cutime + cstime) and the time of its live children (backends, parallel workers, checkpointer…).
 * Exact, not sampled: the same accounting as the reference harness's common.sh.
 */
export function serverCpuSeconds(postmasterPid: number): number {
  const postmaster = readStat(postmasterPid)
  if (!postmaster) return NaN
  let ticks = postmaster.ticks
  const children = childrenOf(postmasterPid)
  if (children) {
    for (const child of children) ticks += readStat(child)?.ticks ?? 0
  } else {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      const stat = readStat(entry)
      if (stat?.ppid === postmasterPid) ticks += stat.ticks
    }
  }
  return ticks / CLOCK_TICKS
}

/** Busy CPU seconds of the whole machine since boot (user, nice, system, irq, softirq; not idle, iowait or steal). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0)) / CLOCK_TICKS
}

/** Cores kept busy by everything on the machine over the next `ms` milliseconds. */
export async function busyCores(ms = 2000): Promise<number> {
  const read = () => {
    const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number)
    const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0)
    return { busy, all: busy + (f[3] ?? 0) + (f[4] ?? 0) }
  }
  const a = read()
  await new Promise((resolve) => setTimeout(resolve, ms))
  const b = read()
  const all = b.all - a.all
  return all > 0 ? (cpuCount() * (b.busy - a.busy)) / all : 0
}

/** The 1-minute load average. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0])
}

/** CPU seconds this process (the harness) has used so far: subtracted from the machine's busy time. */
export function ownCpuSeconds(): number {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1e6
}

export function cpuCount(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim())
  } catch {
    return 1
  }
}

/** A timeline of the two servers' CPU seconds, sampled while a method runs: phase CPU is read off it. */
export class CpuSampler {
  private readonly samples: Array<{ at: number; src: number; tgt: number }> = []
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly sourcePid: number,
    private readonly targetPid: number,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    this.sample()
    this.timer = setInterval(() => this.sample(), this.intervalMs)
  }

  stop(): void {
    clearInterval(this.timer)
    this.sample()
  }

  /** Source and target CPU seconds between two instants (epoch ms), interpolated between samples. */
  between(from: number, to: number): { src: number; tgt: number } {
    return {
      src: this.at(to, 'src') - this.at(from, 'src'),
      tgt: this.at(to, 'tgt') - this.at(from, 'tgt'),
    }
  }

  private at(time: number, key: 'src' | 'tgt'): number {
    const s = this.samples
    if (s.length === 0) return NaN
    if (time <= s[0]!.at) return s[0]![key]
    for (let i = 1; i < s.length; i++) {
      const a = s[i - 1]!
      const b = s[i]!
      if (time <= b.at) return a[key] + ((b[key] - a[key]) * (time - a.at)) / Math.max(b.at - a.at, 1)
    }
    return s.at(-1)![key]
  }

  private sample(): void {
    this.samples.push({
      at: Date.now(),
      src: serverCpuSeconds(this.sourcePid),
      tgt: serverCpuSeconds(this.targetPid),
    })
  }
}
