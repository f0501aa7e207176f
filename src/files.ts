import { mkdirSync, statSync } from 'node:fs'
import path from 'node:path'

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
