// Runs the whole suite: starts one source and one target PostgreSQL server for all test files (unless
// TABLEHAUL_TEST_SOURCE_URL and TABLEHAUL_TEST_TARGET_URL point at servers already), then Node's test
// runner over every test/**/*.test.ts; each file makes its own databases on them.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { TestServer } from '../test/helpers/servers.js'

const root = path.resolve(import.meta.dirname, '..')
const filter = process.argv.slice(2)
const files = readdirSync(path.join(root, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => path.join('test', file))
  .filter((file) => filter.length === 0 || filter.some((f) => file.includes(f)))
  .sort()

const env = { ...process.env }
const started: TestServer[] = []
if (!env.TABLEHAUL_TEST_SOURCE_URL || !env.TABLEHAUL_TEST_TARGET_URL) {
  const [source, target] = await Promise.all([TestServer.start('source'), TestServer.start('target')])
  started.push(source, target)
  env.TABLEHAUL_TEST_SOURCE_URL = source.url
  env.TABLEHAUL_TEST_TARGET_URL = target.url
}

let code = 1
try {
  code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
        ...files,
      ],
      { stdio: 'inherit', env, cwd: root },
    )
    child.on('close', (exitCode) => resolve(exitCode ?? 1))
  })
} finally {
  await Promise.all(started.map((server) => server.destroy()))
}
process.exit(code)
