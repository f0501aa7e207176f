import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { README, updatedReadme } from '../scripts/readme.js'
import { ROOT } from './helpers/cli.js'
import { tempDir } from './helpers/config.js'
import { databasePair } from './helpers/database-pair.js'
import { testServers } from './helpers/servers.js'

const readme = readFileSync(README, 'utf8')
const EXAMPLES = path.join(ROOT, 'examples')

describe('the README', () => {
  test('starts with the quick start: the demo and the tests, two commands', () => {
    const firstSection = readme.split('\n## ')[1]!
    assert.match(firstSection, /^Quick start\n/)
    assert.match(firstSection, /```bash\nnpm ci && npm run demo {5}# .*\nnpm test {19}# .*\n```/)
  })

  test('its reference sections are what `npm run readme` generates from the code', async () => {
    assert.equal(readme, await updatedReadme(readme), 'README.md is stale: run `npm run readme`')
  })

  test('shows each file of examples/ verbatim, so the code it shows type-checks', () => {
    const files = readdirSync(EXAMPLES).filter((name) => name.endsWith('.ts'))
    assert.ok(files.length >= 2)
    for (const name of files) {
      const code = readFileSync(path.join(EXAMPLES, name), 'utf8')
      assert.ok(readme.includes(`\`\`\`ts\n${code}\`\`\``), `README.md shows examples/${name} as it is`)
    }
  })
})

describe('the README examples run', () => {
  let servers: Awaited<ReturnType<typeof testServers>>
  before(async () => {
    servers = await testServers()
  })
  after(async () => {
    await servers?.stop()
  })

  test('nightly-refresh.ts copies and verifies the configured tables', async () => {
    const db = await databasePair(servers, 'example_nightly')
    try {
      await db.source.sql(`
        CREATE SCHEMA sales;
        CREATE TABLE sales.stores (id int PRIMARY KEY, name text);
        INSERT INTO sales.stores SELECT g, 'store ' || g FROM generate_series(1, 25) g;`)
      const result = await runExample('nightly-refresh.ts', {
        TABLEHAUL_SOURCE_URL: db.source.url,
        TABLEHAUL_TARGET_URL: db.target.url,
      })
      assert.equal(result.code, 0, result.output)
      assert.match(result.output, /^sales\.stores: 25 rows in \d+ ms$/m)
      assert.match(result.output, /^run succeeded: 1\/1 tables, log .*\.ndjson$/m)
      assert.match(result.output, /^sales\.stores: same$/m)
    } finally {
      await db.drop()
    }
  })

  test('csv-files.ts exports a table to .csv.gz and imports it back', async () => {
    const db = await databasePair(servers, 'example_csv')
    try {
      const table = `CREATE SCHEMA sales; CREATE TABLE sales.stores_sales (id int PRIMARY KEY, amount numeric(10,2));`
      await db.source.sql(
        `${table} INSERT INTO sales.stores_sales SELECT g, g / 4.0 FROM generate_series(1, 1234) g;`,
      )
      await db.target.sql(table)
      const result = await runExample('csv-files.ts', {
        TABLEHAUL_SOURCE_URL: db.source.url,
        TABLEHAUL_TARGET_URL: db.target.url,
      })
      assert.equal(result.code, 0, result.output)
      assert.match(result.output, /^export succeeded: 1234 rows$/m)
      assert.match(result.output, /^import succeeded: 1234 rows$/m)
    } finally {
      await db.drop()
    }
  })
})

/** Runs an example as a user would run their script, in a folder of its own, with tsx. */
function runExample(name: string, env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(EXAMPLES, name)], {
    cwd: tempDir(),
    // `tablehaul` resolves to src/index.ts through the project's tsconfig paths.
    env: { PATH: process.env.PATH, TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, output })))
}
