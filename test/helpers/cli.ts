import { spawn } from 'node:child_process'
import path from 'node:path'
import { main } from '../../src/cli/main.js'
import type { Output } from '../../src/cli/output.js'

export const ROOT = path.resolve(import.meta.dirname, '..', '..')
/** The built CLI, as users run it (npm test builds it first). */
export const BIN = path.join(ROOT, 'bin', 'tablehaul.js')

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

/** Runs the built CLI as a separate process, as cron would. */
export function spawnCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; nodeArgs?: string[] } = {},
): SpawnedCli {
  const started = Date.now()
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
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
