// What the figures were measured on: they mean little without it.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { cpuCount } from './proc.js'
import { PROJECT_ROOT } from './methods.js'

export interface Machine {
  readonly cores: number
  readonly cpu: string
  readonly memoryGiB: number
  readonly os: string
  readonly kernel: string
  readonly node: string
  readonly pgDriver: string
  /** The last commit that changed src/ or bin/, "+changes" when they hold uncommitted changes. */
  readonly commit: string
  readonly load: string
}

function safely(work: () => string, fallback = '?'): string {
  try {
    return work()
  } catch {
    return fallback
  }
}

export function describeMachine(): Machine {
  const cpuinfo = safely(() => readFileSync('/proc/cpuinfo', 'utf8'), '')
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? '?'
  const mhz = /^cpu MHz\s*:\s*([\d.]+)$/m.exec(cpuinfo)?.[1]
  const release = safely(() => readFileSync('/etc/os-release', 'utf8'), '')
  const git = (args: string[]) => execFileSync('git', args, { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim()
  const dirty = safely(() => (git(['status', '--porcelain', '--', 'src', 'bin']) ? '+changes' : ''), '')
  return {
    cores: cpuCount(),
    cpu: mhz ? `${model} at ${(Number(mhz) / 1000).toFixed(1)} GHz` : model,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(release)?.[1] ?? os.type(),
    kernel: os.release(),
    node: process.version,
    pgDriver: safely(
      () =>
        (
          JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'node_modules', 'pg', 'package.json'), 'utf8')) as {
            version: string
          }
        ).version,
    ),
    // the last commit that changed tablehaul itself (bench-only commits do not change what is measured)
    commit: safely(() => `${git(['log', '-1', '--format=%h', '--', 'src', 'bin'])}${dirty}`),
    load: safely(() => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')),
  }
}
