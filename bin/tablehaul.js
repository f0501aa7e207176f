#!/usr/bin/env node
// The CLI entry: the compiled library does the work; this file only turns main()'s result into the exit code.
import { existsSync } from 'node:fs'

const entry = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(entry)) {
  console.error(
    'tablehaul is not built yet: run `npm run build` (or `npm ci`, which builds it) in this checkout.',
  )
  process.exit(2)
}
const { runCli } = await import(entry.href)
await runCli()
