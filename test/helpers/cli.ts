import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { main } from '../../src/cli/main.js'
import type { Output } from '../../src/cli/output.js'

export const ROOT = path.resolve(import.meta.dirname, '..', '..')
/** The CLI's entry as a process, run from the current source (bin/tablehaul.js would load dist/, maybe stale). */
const CLI_PROCESS = path.join(import.meta.dirname, 'cli-process.ts')

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI in this process (fast; no signals). */
export async function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const out: Output = {
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text), isTTY: false },
  }
  const code = await main(args, { PATH: process.env.PATH, ...options.env }, out, options.cwd ?? ROOT)
  return { code, stdout, stderr }
}

export interface SpawnedCli {
  readonly child: ReturnType<typeof spawn>
  /** Output so far. */
  readonly output: () => { stdout: string; stderr: string }
  readonly done: Promise<CliResult & { signal: NodeJS.Signals | null; durationMs: number }>
}

/** Runs the CLI as a separate process, as cron would, from the current source (through tsx). */
export function spawnCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; nodeArgs?: string[] } = {},
): SpawnedCli {
  const started = Date.now()
  const tsx = import.meta.resolve('tsx')
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), '--import', tsx, CLI_PROCESS, ...args],
    {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null; durationMs: number }>((resolve) => {
    child.on('close', (code, signal) =>
      resolve({ code: code ?? -1, signal, stdout, stderr, durationMs: Date.now() - started }),
    )
  })
  return { child, output: () => ({ stdout, stderr }), done }
}

/** Waits until `predicate` holds, checking every 50 ms, or fails after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await predicate()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/**
 * Why dist/ does not hold the current source (a file under src/ changed after the last build), or undefined.
 * What `import … from 'tablehaul'` and bin/tablehaul.js load is dist/; a test of it must not pass on old code.
 */
export function staleBuild(): string | undefined {
  let built: number
  try {
    built = statSync(path.join(ROOT, 'dist', 'index.js')).mtimeMs
  } catch {
    return 'dist/ is not built: run npm run build'
  }
  const newer = readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).find(
    (file) => statSync(path.join(ROOT, 'src', file)).mtimeMs > built,
  )
  return newer ? `src/${newer} changed after dist/ was built: run npm run build` : undefined
}
