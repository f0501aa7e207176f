import { existsSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'

export type LogRecord = Record<string, unknown> & { event?: string; level?: string }

/**
 * The records of the newest per-run NDJSON log in `dir`: the run that started last. Not the last file name:
 * a run's id has a resolution of one second and ends in random letters, so of two runs started within the
 * same second (a run and its --resume) either one's file may sort last.
 */
export function readRunLog(dir: string): LogRecord[] {
  const runs = readdirSync(dir)
    .filter((name) => name.endsWith('.ndjson'))
    .map((name) => {
      const records = readRecords(path.join(dir, name))
      // A file without a record yet belongs to a run that is just starting: the newest.
      return { records, startedAt: String(records[0]?.time ?? '\uffff') }
    })
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
  const newest = runs.at(-1)
  if (!newest) throw new Error(`no run log in ${dir}`)
  return newest.records
}

function readRecords(file: string): LogRecord[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogRecord)
}

/** The records of the newest run log written so far: none before the file exists (a run just starting). */
export function recordsSoFar(dir: string): LogRecord[] {
  if (!existsSync(dir) || !readdirSync(dir).some((name) => name.endsWith('.ndjson'))) return []
  return readRunLog(dir)
}
