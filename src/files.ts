import { mkdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { messageOf } from './errors.js'

/**
 * `mkdir -p`. Node's own `mkdirSync(dir, { recursive: true })` loops forever, synchronously (no signal gets
 * through), where mkdir answers ENOENT under a parent that exists, as in /proc, /sys or a stale mount; this
 * climbs each parent once and then gives up with the system's error.
 */
export function makeDirectory(dir: string, mode?: number): void {
  try {
    mkdirSync(dir, { mode })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST' && statSync(dir).isDirectory()) return
    const parent = path.dirname(dir)
    if (code !== 'ENOENT' || parent === dir) throw error
    makeDirectory(parent)
    mkdirSync(dir, { mode })
  }
}

/** Files that may hold row data (logs, e-mails, exports, the embedded server's log) are their owner's only. */
export const PRIVATE_FILE_MODE = 0o600
/** Folders tablehaul creates for such files. */
export const PRIVATE_FOLDER_MODE = 0o700

/**
 * The mode to create `file` with when it may hold row data: that of the file it replaces (its owner chose
 * who reads it), else owner-only.
 */
export function privateFileMode(file: string): number {
  try {
    return statSync(file).mode & 0o777
  } catch {
    return PRIVATE_FILE_MODE
  }
}

/**
 * Whether a write failed because the file system has no room left for it: ENOSPC (no free blocks or
 * inodes) or EDQUOT (the user's quota), which no permission or retry fixes; only freeing space does.
 */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

/** Why a file could not be written: `the disk is full (ENOSPC: …)` when it is (isDiskFull), else the error. */
export function writeFailureText(error: unknown): string {
  return isDiskFull(error) ? `the disk is full (${messageOf(error)})` : messageOf(error)
}
