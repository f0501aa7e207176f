// Runs the whole suite: starts one source and one target PostgreSQL server for all test files (unless
// TABLEHAUL_TEST_SOURCE_URL and TABLEHAUL_TEST_TARGET_URL point at servers already), then Node's test
// runner over every test/**/*.test.ts; each file makes its own databases on them.
//
// A hang fails fast and by name instead of eating CI's time: each test file has a time limit
// (TABLEHAUL_TEST_FILE_TIMEOUT, seconds; Node 20 applies the runner's timeout to a file's process as a
// whole, so the tests still running when it fires are named from the runner's events), and the whole run
// has a deadline (TABLEHAUL_TEST_RUN_TIMEOUT, seconds) that aborts it, still printing the runner's summary,
// and exits non-zero saying so. SIGINT and SIGTERM abort the run the same way; the servers started here
// are stopped whatever ends the run.
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { run } from 'node:test'
import { spec } from 'node:test/reporters'
import { pipeline } from 'node:stream/promises'
import { TestServer } from '../test/helpers/servers.js'

const root = path.resolve(import.meta.dirname, '..')
const FILE_TIMEOUT_S = Number(process.env.TABLEHAUL_TEST_FILE_TIMEOUT ?? 300)
const RUN_TIMEOUT_S = Number(process.env.TABLEHAUL_TEST_RUN_TIMEOUT ?? 1200)
/** timeout(1)'s exit code: the run was stopped at its deadline. */
const TIMED_OUT = 124

const filter = process.argv.slice(2)
const files = readdirSync(path.join(root, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => path.join('test', file))
  .filter((file) => filter.length === 0 || filter.some((f) => file.includes(f)))
  .sort()

const stop = new AbortController()
/** The servers this script started, stopped on every way out. */
const started: TestServer[] = []
let exitCode: number | undefined

function abort(code: number, reason: string): void {
  if (stop.signal.aborted) return
  exitCode = code
  process.stderr.write(`\nrun-tests: ${reason}; stopping the test files and the servers\n`)
  stop.abort(new Error(reason))
}

let signals = 0
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.on(signal, () => {
    // A second signal does not wait for the runner's summary, only for the servers to stop.
    if (++signals > 1) void stopServers().finally(() => process.exit(code))
    else abort(code, `${signal} received`)
  })
}

async function stopServers(): Promise<void> {
  await Promise.all(started.splice(0).map((server) => server.destroy()))
}

/** Both servers, stopped again at once when a signal came while they started. */
async function startServers(): Promise<[TestServer, TestServer]> {
  const servers = await TestServer.startPair((server) => started.push(server))
  if (stop.signal.aborted) {
    await stopServers()
    throw stop.signal.reason
  }
  return servers
}

/**
 * The tests each file is running (started, not yet finished), so that a file stopped by its time limit or
 * the run's deadline names the test that hung, not only the file.
 */
class InFlight {
  private readonly running = new Map<string, Array<{ name: string; nesting: number }>>()

  started(file: string | undefined, name: string, nesting: number): void {
    if (!file || isFileItself(file, name)) return
    const list = this.running.get(file) ?? []
    list.push({ name, nesting })
    this.running.set(file, list)
  }

  finished(file: string | undefined, name: string, nesting: number): void {
    const list = file ? this.running.get(file) : undefined
    const at = list?.findLastIndex((test) => test.name === name && test.nesting === nesting) ?? -1
    if (at >= 0) list!.splice(at, 1)
  }

  /** `suite › test` for each test still running in `file`. */
  names(file: string): string {
    const list = this.running.get(file) ?? []
    return list.length === 0
      ? '(no test had started: a hook or the file itself)'
      : list.map((test) => test.name).join(' › ')
  }
}

function isFileItself(file: string, name: string): boolean {
  return path.resolve(root, name) === file
}

async function runTests(): Promise<number> {
  if (!process.env.TABLEHAUL_TEST_SOURCE_URL || !process.env.TABLEHAUL_TEST_TARGET_URL) {
    const [source, target] = await startServers()
    // The test files are the runner's child processes and inherit this environment.
    process.env.TABLEHAUL_TEST_SOURCE_URL = source.url
    process.env.TABLEHAUL_TEST_TARGET_URL = target.url
  }
  if (stop.signal.aborted) return exitCode ?? 1
  const deadline = setTimeout(
    () => abort(TIMED_OUT, `the whole run timed out after ${RUN_TIMEOUT_S} s (TABLEHAUL_TEST_RUN_TIMEOUT)`),
    RUN_TIMEOUT_S * 1000,
  )
  const inFlight = new InFlight()
  let failed = false
  const tests = run({
    files,
    concurrency: Number(process.env.TEST_CONCURRENCY ?? 2),
    timeout: FILE_TIMEOUT_S * 1000,
    signal: stop.signal,
  })
  tests.on('test:dequeue', (test) => inFlight.started(test.file, test.name, test.nesting))
  const cutOff: Array<{ file: string; why: string }> = []
  tests.on('test:complete', (test) => {
    const failure = test.details.error as (Error & { failureType?: string }) | undefined
    if (test.file && isFileItself(test.file, test.name) && failure) {
      const why =
        failure.failureType === 'testTimeoutFailure'
          ? `timed out after ${FILE_TIMEOUT_S} s (TABLEHAUL_TEST_FILE_TIMEOUT)`
          : failure.failureType === 'testAborted'
            ? `was stopped (${stop.signal.reason instanceof Error ? stop.signal.reason.message : 'aborted'})`
            : undefined
      if (why) cutOff.push({ file: test.file, why })
    }
    inFlight.finished(test.file, test.name, test.nesting)
  })
  tests.on('test:fail', (test) => {
    if (!test.todo) failed = true
  })
  try {
    await pipeline(tests.compose(new spec()), process.stdout, { end: false })
  } finally {
    clearTimeout(deadline)
  }
  // Named once the runner is done: a file's buffered events may still arrive after the file itself ended.
  for (const { file, why } of cutOff)
    process.stderr.write(
      `run-tests: ${path.relative(root, file)} ${why} while running: ${inFlight.names(file)}\n`,
    )
  if (exitCode === TIMED_OUT)
    process.stderr.write(
      `run-tests: FAILED: the whole run timed out after ${RUN_TIMEOUT_S} s (TABLEHAUL_TEST_RUN_TIMEOUT)\n`,
    )
  return exitCode ?? (failed ? 1 : 0)
}

process.chdir(root)
let code = 1
try {
  code = await runTests()
} catch (error) {
  process.stderr.write(
    `run-tests: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  code = exitCode ?? 1
} finally {
  await stopServers()
}
process.exit(code)
