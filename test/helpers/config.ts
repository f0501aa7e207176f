import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type ConfigFlags, loadConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/schema.js'

/** A temporary folder for a test's logs and outbox. */
export function tempDir(prefix = 'tablehaul-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** A Config as the CLI would build it, from flags and an optional YAML text, with logs in a temp folder. */
export function testConfig(
  flags: ConfigFlags,
  options: { yaml?: Record<string, unknown>; dir?: string } = {},
): Config {
  const dir = options.dir ?? tempDir()
  const { config } = loadConfig({ cwd: dir, env: {}, flags: { logDir: path.join(dir, 'logs'), ...flags } })
  return options.yaml ? { ...config, ...options.yaml } : config
}
