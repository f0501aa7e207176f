import { existsSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'

export type LogRecord = Record<string, unknown> & { event?: string; level?: string }

/** The records of the newest per-run NDJSON log in `dir`. */
export function readRunLog(dir: string): LogRecord[] {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.ndjson'))
    .sort()
  const newest = files.at(-1)
  if (!newest) throw new Error(`no run log in ${dir}`)
  return readFileSync(path.join(dir, newest), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogRecord)
}

/** The records of the newest run log written so far: none before the file exists (a run just starting). */
export function recordsSoFar(dir: string): LogRecord[] {
  if (!existsSync(dir) || !readdirSync(dir).some((name) => name.endsWith('.ndjson'))) return []
  return readRunLog(dir)
}
