import {
  type Stats,
  closeSync,
  constants,
  createWriteStream,
  existsSync,
  fchmodSync,
  fchownSync,
  lstatSync,
  open,
  openSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import type { Writable } from 'node:stream'
import { promisify } from 'node:util'
import { TablehaulError, messageOf, systemErrorCodeOf } from '../errors.js'
import { PRIVATE_FILE_MODE } from '../files.js'

/** What `--file -` means: the CSV goes to standard output. */
export const STDOUT = '-'

/**
 * Where an export writes, decided from what is at `--file` before anything is opened or connected:
 * - `file`: a regular file, replaced atomically (written under a temporary name beside it, renamed into place
 *   once complete) keeping its mode and, where the system allows, its owner; or a new file, created `0600`;
 * - `device`, `fifo`: a character device or a named pipe, opened and written through, never replaced;
 * - `stdout`: `--file -`.
 * A symbolic link is followed when it, and every link it leads to, belongs to the user running tablehaul or
 * to root, and what it leads to follows the rules above (the link stays a link). Anything else (a folder, a
 * socket, a block device, a link owned by someone else) is refused with an error that says what to do.
 */
export type ExportDestination =
  | { readonly kind: 'stdout' }
  | { readonly kind: 'device' | 'fifo'; readonly path: string }
  | { readonly kind: 'file'; readonly path: string; readonly replaces: Stats | undefined }

/** The most links followed before giving up, as the kernel does (ELOOP after 40). */
const MAX_LINKS = 40

/** Where `file` (absolute, or `-`) makes an export write; throws a FILE_FAILED error for what it refuses. */
export function findDestination(file: string): ExportDestination {
  if (file === STDOUT) return { kind: 'stdout' }
  const end = followOwnLinks(file)
  let stats: Stats
  try {
    stats = statSync(file)
  } catch (error) {
    if (systemErrorCodeOf(error) !== 'ENOENT') throw cannotWrite(file, error)
    const folder = path.dirname(end)
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      const via = end === file ? '' : ` (where the link ${file} leads)`
      throw new TablehaulError('FILE_FAILED', `cannot write ${end}${via}: folder ${folder} does not exist`, {
        hint: 'create the folder first, or give --file a path in an existing folder',
      })
    }
    return { kind: 'file', path: end, replaces: undefined }
  }
  if (stats.isFile()) return { kind: 'file', path: realpathSync(file), replaces: stats }
  if (stats.isCharacterDevice()) return { kind: 'device', path: file }
  if (stats.isFIFO()) return { kind: 'fifo', path: file }
  const refusal = stats.isDirectory()
    ? {
        what: 'a folder',
        hint: `give --file the name of a file in it, e.g. ${path.join(file, 'export.csv')}`,
      }
    : stats.isBlockDevice()
      ? {
          what: 'a block device',
          hint: 'a CSV written over a disk would destroy what is on it: give --file a file, a FIFO or - (stdout)',
        }
      : { what: 'a socket', hint: 'give --file a file, a character device, a FIFO or - (stdout)' }
  throw new TablehaulError('FILE_FAILED', `cannot write ${file}: it is ${refusal.what}`, {
    hint: refusal.hint,
  })
}

/**
 * Follows the symbolic links at `file` and returns where they end (`file` itself when it is none). Each link
 * must belong to the user running tablehaul or to root: a link someone else owns may point anywhere they
 * like (/tmp/report.csv → /etc/passwd, for an export run as root), and the file it leads to would be
 * replaced. That is the rule Linux applies itself in sticky folders such as /tmp (fs.protected_symlinks), but
 * an export replaces a file by renaming over it, which the kernel's check never sees.
 */
function followOwnLinks(file: string): string {
  const uid = process.geteuid?.()
  let current = file
  for (let hop = 0; hop <= MAX_LINKS; hop++) {
    let stats: Stats
    try {
      stats = lstatSync(current)
    } catch {
      // Gone, or a kernel link such as /proc/self/fd/1 → pipe:[123]: statSync decides what is there.
      return current
    }
    if (!stats.isSymbolicLink()) return current
    if (uid !== undefined && stats.uid !== uid && stats.uid !== 0) {
      throw new TablehaulError(
        'FILE_FAILED',
        `cannot write ${file}: ${current === file ? 'it' : current} is a symbolic link owned by another user (uid ${stats.uid}), which tablehaul does not follow`,
        {
          hint: `give --file the path the link leads to (${readLink(current)}) if that is where the export belongs, or remove the link`,
        },
      )
    }
    current = path.resolve(path.dirname(current), readlinkSync(current))
  }
  throw new TablehaulError('FILE_FAILED', `cannot write ${file}: more than ${MAX_LINKS} symbolic links`, {
    hint: 'the links loop; remove one, or give --file a path that is not a link',
  })
}

function readLink(link: string): string {
  try {
    return path.resolve(path.dirname(link), readlinkSync(link))
  } catch {
    return '?'
  }
}

function cannotWrite(file: string, error: unknown): TablehaulError {
  return new TablehaulError('FILE_FAILED', `cannot write ${file}: ${messageOf(error)}`, {
    cause: error,
    hint: 'check the path given to --file and its permissions',
  })
}

/** Where an export's bytes go, from the moment the query runs until the export is over. */
export interface ExportSink {
  /** What the file is called in messages: its path, or `stdout`. */
  readonly name: string
  /** The stream the CSV is piped into; opened on the first call. */
  writable(): Writable
  /** Whether the pipe should end the stream (never standard output: more may be written there). */
  readonly endsStream: boolean
  /** The CSV is complete: a replaced file takes its place. */
  complete(): void
  /** Ends the export's hold on the destination; a file not completed leaves nothing behind. */
  close(): void
  /** Whether `error` came from writing the destination, rather than from the source. */
  failedWith(error: unknown): boolean
}

/**
 * Opens what the export writes through (a device, a FIFO, standard output) at once, or prepares the
 * replacement of a file (opened when the query runs, so a failure to connect creates nothing). Opening a FIFO
 * waits for a reader, as writing into a pipe does, up to `timeoutMs` or until `signal` aborts.
 */
export async function openSink(
  destination: ExportDestination,
  options: { runId: string; stdout: Writable; signal: AbortSignal; timeoutMs: number },
): Promise<ExportSink> {
  switch (destination.kind) {
    case 'stdout':
      return new WriteThrough('stdout', options.stdout, false)
    case 'device': {
      const fd = await openForWriting(destination.path)
      return new WriteThrough(destination.path, createWriteStream('', { fd }), true)
    }
    case 'fifo': {
      const fd = await openFifo(destination.path, options.signal, options.timeoutMs)
      // A pipe's writes go through the event loop (net.Socket): a reader that stops reading stalls the export,
      // which the stall watchdog ends, instead of a write blocked in the thread pool that nothing can end.
      return new WriteThrough(destination.path, new net.Socket({ fd, readable: false, writable: true }), true)
    }
    case 'file':
      return new FileReplacement(destination.path, destination.replaces, options.runId)
  }
}

const openAsync = promisify(open)

/** Opens an existing device or FIFO for writing: never created (O_CREAT) or truncated here. */
async function openForWriting(file: string): Promise<number> {
  try {
    return await openAsync(file, constants.O_WRONLY | constants.O_NOCTTY)
  } catch (error) {
    throw cannotWrite(file, error)
  }
}

/**
 * Opens a FIFO for writing, which waits until a process opens it for reading. Nothing can cancel the open
 * itself, so a stop or the timeout opens the FIFO for reading here (that never waits), which lets the
 * pending open finish, and closes both.
 */
async function openFifo(file: string, signal: AbortSignal, timeoutMs: number): Promise<number> {
  const pending = openForWriting(file)
  const stop = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
  let onStop: (() => void) | undefined
  const stopped = new Promise<'stopped'>((resolve) => {
    onStop = () => resolve('stopped')
    if (stop.aborted) onStop()
    else stop.addEventListener('abort', onStop, { once: true })
  })
  try {
    const first = await Promise.race([pending, stopped])
    if (first !== 'stopped') return first
  } finally {
    stop.removeEventListener('abort', onStop!)
  }
  let reader: number | undefined
  try {
    reader = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch {
    // The FIFO is gone: the pending open has failed or finished by itself.
  }
  await pending.then(closeSync, () => {})
  if (reader !== undefined) closeSync(reader)
  if (signal.aborted) throw signal.reason
  throw new TablehaulError(
    'FILE_FAILED',
    `cannot write ${file}: no process opened the FIFO for reading within ${Math.round(timeoutMs / 1000)} s`,
    { hint: 'start the reader first (e.g. gzip < fifo > out.gz &), or raise timeouts.connect' },
  )
}

/** A device, a FIFO or standard output: written as the bytes come, never replaced or removed. */
class WriteThrough implements ExportSink {
  private readonly errors = new Set<unknown>()
  private readonly onError = (error: unknown) => this.errors.add(error)

  constructor(
    readonly name: string,
    private readonly stream: Writable,
    readonly endsStream: boolean,
  ) {
    stream.on('error', this.onError)
  }

  writable(): Writable {
    return this.stream
  }

  complete(): void {}

  close(): void {
    if (this.endsStream) this.stream.destroy()
    // Standard output outlives the export: its own error handling (main's EPIPE exit) takes over again.
    else this.stream.off('error', this.onError)
  }

  failedWith(error: unknown): boolean {
    return this.errors.has(error)
  }
}

/**
 * A regular file, written under a temporary name in its folder and renamed over it once complete, so that a
 * reader never sees half an export and a failed one leaves the old file as it was. The new file gets the
 * mode of the one it replaces (its owner chose who reads it), else owner-only, and, where the system allows
 * (as root), its owner and group.
 */
class FileReplacement implements ExportSink {
  readonly endsStream = true
  private readonly temporary: string
  private readonly errors = new Set<unknown>()
  private stream: Writable | undefined
  private completed = false

  constructor(
    readonly name: string,
    private readonly replaces: Stats | undefined,
    runId: string,
  ) {
    this.temporary = path.join(path.dirname(name), `.${path.basename(name)}.${runId}.partial`)
  }

  writable(): Writable {
    if (this.stream) return this.stream
    // 'wx': a file of that name that is not ours is never written into, nor removed later.
    const fd = openSync(this.temporary, 'wx', PRIVATE_FILE_MODE)
    this.stream = createWriteStream(this.temporary, { fd })
    this.stream.on('error', (error) => this.errors.add(error))
    try {
      // After the open, not through it: open's mode is narrowed by the umask.
      fchmodSync(fd, this.replaces ? this.replaces.mode & 0o777 : PRIVATE_FILE_MODE)
      if (this.replaces) keepOwner(fd, this.replaces)
    } catch (error) {
      this.close()
      throw error
    }
    return this.stream
  }

  complete(): void {
    renameSync(this.temporary, this.name)
    this.completed = true
  }

  close(): void {
    if (!this.stream) return
    this.stream.destroy()
    if (!this.completed) rmSync(this.temporary, { force: true })
  }

  failedWith(error: unknown): boolean {
    if (this.errors.has(error)) return true
    // Opening, renaming: a system error that names the path.
    return Boolean(systemErrorCodeOf(error)) && typeof (error as { path?: unknown }).path === 'string'
  }
}

/** Gives the new file the owner and group of the one it replaces, when this user may (root may). */
function keepOwner(fd: number, replaced: Stats): void {
  if (process.geteuid?.() === replaced.uid && process.getegid?.() === replaced.gid) return
  try {
    fchownSync(fd, replaced.uid, replaced.gid)
  } catch (error) {
    if (systemErrorCodeOf(error) !== 'EPERM') throw error
  }
}
