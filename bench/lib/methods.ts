// The methods the bench compares: tablehaul and its peers, each a command that copies every table of the
// source database into the empty target database (schema, data, indexes, constraints, sequences).
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

export const METHOD_NAMES = ['psql_pipe', 'tablehaul', 'pgcopydb', 'pg_dump_dir', 'pg_dump_dir_z0'] as const
export type MethodName = (typeof METHOD_NAMES)[number]

/** The baseline every ratio is taken against, run first in every repetition. */
export const BASELINE: MethodName = 'psql_pipe'

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..')
const RUNNERS = path.join(PROJECT_ROOT, 'bench', 'runners')

export interface RunContext {
  readonly sourceUrl: string
  readonly targetUrl: string
  readonly jobs: number
  /** An empty folder of this run (dumps, logs). */
  readonly workDir: string
}

export interface Command {
  readonly file: string
  readonly args: readonly string[]
  readonly env?: Readonly<Record<string, string>>
}

export interface Method {
  readonly name: MethodName
  /** What it does, for the summary's legend. */
  readonly description: string
  /** What it needs installed (checked once by `availableMethods`). */
  readonly needs: 'node' | 'pg-clients' | 'pgcopydb'
  command(context: RunContext): Command
}

const runner =
  (script: string, env: Record<string, string> = {}) =>
  (): Command => ({
    file: 'bash',
    args: [path.join(RUNNERS, script)],
    env,
  })

export const METHODS: Readonly<Record<MethodName, Method>> = {
  psql_pipe: {
    name: 'psql_pipe',
    description:
      'baseline: pg_dump --section=pre-data | psql; per table psql "\\copy t TO STDOUT" | psql "\\copy t FROM STDIN" (text, 1 stream); setval; pg_dump --section=post-data | psql',
    needs: 'pg-clients',
    command: runner('psql_pipe.sh'),
  },
  tablehaul: {
    name: 'tablehaul',
    description: 'node bin/tablehaul.js run --source … --target … --jobs N --log-dir … (default settings)',
    needs: 'node',
    command: (context) => ({
      file: process.execPath,
      args: [
        path.join(PROJECT_ROOT, 'bin', 'tablehaul.js'),
        'run',
        '--source',
        context.sourceUrl,
        '--target',
        context.targetUrl,
        '--jobs',
        String(context.jobs),
        '--log-dir',
        path.join(context.workDir, 'logs'),
        // the run report on stdout (per-table bytes, durations, formats); it changes nothing in the run
        '--json',
      ],
    }),
  },
  pgcopydb: {
    name: 'pgcopydb',
    description:
      'pgcopydb clone --table-jobs N --index-jobs N (indexes built per table as soon as it is loaded)',
    needs: 'pgcopydb',
    command: runner('pgcopydb.sh'),
  },
  pg_dump_dir: {
    name: 'pg_dump_dir',
    description: 'pg_dump -Fd -j N (default gzip compression) to a folder, then pg_restore -j N',
    needs: 'pg-clients',
    command: runner('pg_dump_dir.sh'),
  },
  pg_dump_dir_z0: {
    name: 'pg_dump_dir_z0',
    description: 'the same with pg_dump -Z 0 (no compression)',
    needs: 'pg-clients',
    command: runner('pg_dump_dir.sh', { PGDUMP_Z: '0' }),
  },
}

export interface Tools {
  /** Version line of the PostgreSQL client tools in `binDir`, if they can talk to the servers. */
  readonly clients?: string | undefined
  readonly pgcopydb?: string | undefined
  /** Why a kind of method cannot run here. */
  readonly missing: Partial<Record<Method['needs'], string>>
}

async function versionLine(file: string): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await execFileAsync(file, ['--version'])
    return `${stdout}${stderr}`
      .split('\n')
      .filter((l) => /version|PostgreSQL/.test(l) && !/INFO/.test(l))[0]
      ?.trim()
  } catch {
    return undefined
  }
}

/**
 * Which peers can run against servers of `serverMajor`: psql, pg_dump and pg_restore of a major at least
 * the server's (pg_dump refuses a newer server) in `binDir` or on the PATH, and pgcopydb on the PATH.
 */
export async function findTools(
  binDir: string,
  serverMajor: number,
): Promise<Tools & { clientDir?: string }> {
  const missing: Tools['missing'] = {}
  let clients: string | undefined
  let clientDir: string | undefined
  for (const dir of [binDir, '']) {
    const tool = (name: string) => (dir ? path.join(dir, name) : name)
    if (dir && !existsSync(tool('pg_dump'))) continue
    const line = await versionLine(tool('pg_dump'))
    const hasOthers = (await versionLine(tool('psql'))) && (await versionLine(tool('pg_restore')))
    if (!line || !hasOthers) continue
    const major = Number.parseInt(line.replace(/^.*\(PostgreSQL\)\s*/, ''), 10)
    if (major >= serverMajor) {
      clients = line
      clientDir = dir || undefined
      break
    }
    missing['pg-clients'] =
      `the PostgreSQL client tools found (${line}) are older than the servers (${serverMajor}): pg_dump refuses a newer server`
  }
  if (!clients) missing['pg-clients'] ??= 'psql, pg_dump and pg_restore are not installed'
  const pgcopydb = clients ? await versionLine('pgcopydb') : undefined
  if (!pgcopydb) missing.pgcopydb = clients ? 'pgcopydb is not installed' : missing['pg-clients']
  return { clients, pgcopydb, missing, clientDir }
}
