import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** Whether this process may mount a tmpfs (tests that need one skip, saying so, when it may not). */
export const isRoot = process.platform === 'linux' && process.getuid?.() === 0

/** A small tmpfs of its own, unmounted by the caller; undefined when this process may not mount one. */
export function smallDisk(size: string): string | undefined {
  if (!isRoot) return undefined
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tablehaul-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' })
    return dir
  } catch {
    rmSync(dir, { recursive: true, force: true })
    return undefined
  }
}

/** Unmounts it, lazily when a file is still open in it (a test that failed): it is never left mounted. */
export function unmount(dir: string | undefined): void {
  if (!dir) return
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' })
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
  }
  rmSync(dir, { recursive: true, force: true })
}

/** Fills the file system of `dir` to its last byte (writing stops at ENOSPC). */
export function fill(dir: string): void {
  const block = Buffer.alloc(64 * 1024)
  const file = path.join(dir, 'filler')
  for (let size = block.length; size >= 1; size = Math.floor(size / 2)) {
    try {
      for (;;) writeFileSync(file, block.subarray(0, size), { flag: 'a' })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
    }
  }
}
