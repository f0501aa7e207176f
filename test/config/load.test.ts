import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.js'
import { configJsonSchema } from '../../src/config/schema.js'
import { formatRate } from '../../src/config/units.js'
import { withPassword } from '../../src/db/database.js'
import { TablehaulError } from '../../src/errors.js'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'

function writeConfig(yaml: string): { dir: string; file: string } {
  const dir = tempDir()
  const file = path.join(dir, 'tablehaul.yaml')
  writeFileSync(file, yaml)
  return { dir, file }
}

function configError(run: () => unknown): TablehaulError {
  try {
    run()
  } catch (error) {
    assert.ok(error instanceof TablehaulError, String(error))
    assert.equal(error.code, 'CONFIG_INVALID')
    return error
  }
  assert.fail('expected a CONFIG_INVALID error')
}

test('defaults fill everything the file leaves out', () => {
  const { dir } = writeConfig('source: { url: postgres://reader@db.example.com/sales }\n')
  const { config, file } = loadConfig({ cwd: dir, env: {} })
  assert.equal(file, path.join(dir, 'tablehaul.yaml'))
  assert.equal(config.mode, 'replace')
  assert.equal(config.schema, 'create-missing')
  assert.equal(config.jobs, 4)
  assert.equal(config.copy.format, 'auto')
  assert.equal(config.timeouts.stall, 5 * 60_000)
  assert.equal(config.log.dir, path.join(dir, 'logs'))
  assert.equal(config.tables, undefined)
  assert.deepEqual(config.exclude, [])
})

test('every problem in the file is reported at once, each as a path: message line', () => {
  const { dir } = writeConfig(`
source: { url: mysql://db/sales }
mode: copy
jobs: 0
tables:
  - sales.orders
  - { name: sales.items, wher: "x > 1" }
  - { query: "select 1" }
timeouts: { stall: soon }
emial: {}
`)
  const error = configError(() => loadConfig({ cwd: dir, env: {} }))
  const lines = error.message
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
  assert.deepEqual(lines.sort(), [
    'emial: unknown key (did you mean "email"?); allowed here: source, target, tables, exclude, mode, verify, schema, objects, owners, privileges, jobs, copy, timeouts, retry, log, email, local',
    'jobs: must be at least 1',
    'mode: must be one of replace, append, recreate, sync',
    'source.url: must be a postgres:// or postgresql:// URL, e.g. postgres://user@host:5432/dbname',
    'tables.1.wher: unknown key (did you mean "where"?); allowed here: name, where, into, mode, changed',
    'tables.2.into: required',
    'timeouts.stall: "soon" is not a duration; write e.g. 30s, 5m or 1h',
  ])
  assert.match(error.hint ?? '', /config --schema/)
})

test('${VAR} takes values from the environment, with defaults; a missing one is named', () => {
  const { dir } = writeConfig(`
source: { url: "postgres://reader@\${DB_HOST}/sales", password: "\${SALES_PW}" }
log: { dir: "\${LOG_DIR:-./nightly-logs}" }
email: { to: [ops@example.com], smtp: "smtps://u:\${SMTP_PW}@mail:465", from: "cost $$5" }
`)
  const { config } = loadConfig({
    cwd: dir,
    env: { DB_HOST: 'db.internal', SALES_PW: 's3cret', SMTP_PW: 'p' },
  })
  assert.equal(config.source?.url, 'postgres://reader@db.internal/sales')
  assert.equal(config.source?.password, 's3cret')
  assert.equal(config.log.dir, path.join(dir, 'nightly-logs'))
  assert.equal(config.email?.from, 'cost $5')
  const error = configError(() => loadConfig({ cwd: dir, env: { DB_HOST: 'x', SMTP_PW: 'p' } }))
  assert.match(error.message, /source\.password: environment variable SALES_PW is not set/)
})

test('the SQL of where: and query: is used as written: no ${VAR}, $$ stays $$ (dollar quoting)', () => {
  const { dir } = writeConfig(`
source: { url: "postgres://reader@\${DB_HOST}/sales" }
tables:
  - { name: sales.orders, where: "note <> $$\${NOT_A_VARIABLE}$$" }
  - { query: "select $tag$a$$b$tag$ as x", into: reporting.x }
`)
  const { config } = loadConfig({ cwd: dir, env: { DB_HOST: 'db.internal' } })
  assert.equal(config.source?.url, 'postgres://reader@db.internal/sales', 'other strings are interpolated')
  assert.deepEqual(config.tables, [
    { name: 'sales.orders', where: 'note <> $$${NOT_A_VARIABLE}$$' },
    { query: 'select $tag$a$$b$tag$ as x', into: 'reporting.x' },
  ])
})

test('a trailing ; of a query: or where: (natural in psql) is dropped, once, by the schema', () => {
  const { dir } = writeConfig(`
tables:
  - { query: "select * from sales.stores;  ", into: reporting.stores }
  - { name: sales.orders, where: "id > 5 ;" }
`)
  assert.deepEqual(loadConfig({ cwd: dir, env: {} }).config.tables, [
    { query: 'select * from sales.stores', into: 'reporting.stores' },
    { name: 'sales.orders', where: 'id > 5' },
  ])
  const empty = writeConfig('tables:\n  - { query: ";", into: reporting.nothing }\n')
  const error = configError(() => loadConfig({ cwd: empty.dir, env: {} }))
  assert.match(error.message, /tables\.0\.query: must not be empty/)
})

test('a password that the URL cannot carry (no host) is refused at load time, never silently dropped', () => {
  const { dir } = writeConfig(`
source: { url: "postgres:///sales?host=/var/run/postgresql", password: "s3cret" }
target: { url: "postgres://writer@localhost/copy", password: "s3cret" }
`)
  const error = configError(() => loadConfig({ cwd: dir, env: {} }))
  const lines = error.message.split('\n').slice(1)
  assert.equal(lines.length, 1, error.message)
  assert.match(
    lines[0]!,
    /^\s+source\.password: cannot be used: the url names no host to give it to; .*PGPASSWORD/,
  )
  assert.doesNotMatch(error.message, /s3cret/)
  // A Database built in code, past the loader, refuses it too.
  assert.throws(() => withPassword('postgres://reader@/sales', 's3cret'), /names no host/)
  assert.equal(withPassword('postgres://reader@db/sales', 'p@ss'), 'postgres://reader:p%40ss@db/sales')
})

test('flags override the environment, which overrides the file', () => {
  const { dir } = writeConfig('source: { url: postgres://file/db }\njobs: 2\nmode: append\n')
  const env = { TABLEHAUL_SOURCE_URL: 'postgres://env/db', TABLEHAUL_JOBS: '6' }
  const fromEnv = loadConfig({ cwd: dir, env }).config
  assert.equal(fromEnv.source?.url, 'postgres://env/db')
  assert.equal(fromEnv.jobs, 6)
  assert.equal(fromEnv.mode, 'append')
  const fromFlags = loadConfig({
    cwd: dir,
    env,
    flags: { source: 'postgres://flag/db', jobs: '8', tables: ['a.b'] },
  }).config
  assert.equal(fromFlags.source?.url, 'postgres://flag/db')
  assert.equal(fromFlags.jobs, 8)
  assert.deepEqual(fromFlags.tables, ['a.b'])
})

test('broken YAML is reported with its line', () => {
  const { dir } = writeConfig('source:\n  url: postgres://x/y\n tables: [a\n')
  const error = configError(() => loadConfig({ cwd: dir, env: {} }))
  assert.match(error.message, /not valid YAML:\n\s+line 3, column \d+/)
})

test('a --config file that does not exist says so', () => {
  const error = configError(() => loadConfig({ cwd: tempDir(), env: {}, file: 'nightly.yaml' }))
  assert.match(error.message, /config file nightly\.yaml does not exist/)
})

test('the JSON Schema documents every top-level key', () => {
  const schema = configJsonSchema() as { properties: Record<string, { description?: string }> }
  for (const key of [
    'source',
    'target',
    'tables',
    'exclude',
    'mode',
    'schema',
    'jobs',
    'log',
    'email',
    'timeouts',
  ]) {
    assert.ok(schema.properties[key]?.description, `${key} has a description`)
  }
})

test('a bad value from a flag or a variable is blamed on it, not on the file', () => {
  const { dir } = writeConfig('source: { url: postgres://reader@db.example.com/sales }\nmode: append\n')
  const byFlag = configError(() => loadConfig({ cwd: dir, env: {}, flags: { jobs: '0' } }))
  assert.equal(
    byFlag.message,
    'the configuration is not valid:\n  jobs: must be at least 1 (given by --jobs)',
  )
  const byVariable = configError(() => loadConfig({ cwd: dir, env: { TABLEHAUL_JOBS: 'many' } }))
  assert.equal(
    byVariable.message,
    'the configuration is not valid:\n  jobs: must be a number (given in TABLEHAUL_JOBS)',
  )
  const { dir: bad } = writeConfig('source: { url: postgres://reader@db.example.com/sales }\nmode: mirror\n')
  const both = configError(() => loadConfig({ cwd: bad, env: {}, flags: { jobs: '0' } }))
  assert.match(
    both.message,
    /^tablehaul\.yaml is not valid:\n/,
    'a file with a wrong line of its own is named',
  )
  assert.match(both.message, /^ {2}mode: must be one of replace, append, recreate, sync$/m)
  assert.match(both.message, /^ {2}jobs: must be at least 1 \(given by --jobs\)$/m)
})

test("a key that a query: entry cannot have lists the query entry's keys, not a table entry's", () => {
  const { dir } = writeConfig(`
tables:
  - { query: "select * from sales.stores", into: reporting.stores, changed: updated_at }
  - { name: sales.orders, chnged: updated_at }
`)
  const lines = configError(() => loadConfig({ cwd: dir, env: {} }))
    .message.split('\n')
    .slice(1)
  assert.deepEqual(
    lines.map((l) => l.trim()),
    [
      'tables.0.changed: unknown key; allowed here: query, into',
      'tables.1.chnged: unknown key (did you mean "changed"?); allowed here: name, where, into, mode, changed',
    ],
  )
})

test('verify: checksum where no table would be checked (mode append or recreate) is a configuration error', async () => {
  const source = 'source: { url: postgres://reader@db.example.com/sales }\n'
  const { dir } = writeConfig(`${source}mode: append\nverify: checksum\n`)
  assert.equal(
    configError(() => loadConfig({ cwd: dir, env: {} })).message,
    'tablehaul.yaml is not valid:\n  verify: checksum checks only tables loaded with mode replace or sync, and every table of this run is loaded with mode append: use mode: replace or sync, or remove verify',
  )
  const cli = await runCli(['plan', '--mode', 'recreate', '--verify', 'checksum'], {
    cwd: writeConfig(source).dir,
  })
  assert.equal(cli.code, 2, cli.stderr)
  assert.match(cli.stderr, /verify: checksum checks only .* mode recreate: .* \(given by --verify\)/)
  const mixed = writeConfig(`${source}mode: append\nverify: checksum\ntables: [{ name: s.t, mode: sync }]\n`)
  assert.equal(
    loadConfig({ cwd: mixed.dir, env: {} }).config.verify,
    'checksum',
    'one synced table is checked',
  )
})

test('values the schema cannot take are configuration errors (exit 2) that say what is wrong, never unexpected ones', async () => {
  const cases: Array<[string, RegExp]> = [
    [
      'retry:\n  backoff: [1]\n',
      /^\s*retry\.backoff: must be one value such as 30s, 512MB or 10, not a list$/m,
    ],
    [
      'source:\n  url: postgres://reader@db.example.com:abc/sales\n',
      /^\s*source\.url: the port "abc" is not a number/m,
    ],
    [
      'source:\n  url: postgres://reader@db.example.com/sales?sslmode=bogus\n',
      /^\s*source\.url: sslmode "bogus" is not one of disable, allow, prefer, require, verify-ca, verify-full, no-verify$/m,
    ],
    [
      `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from(
        { length: 9 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(', ')}]`,
      ).join('\n')}\n`,
      /cannot be read as YAML: .*alias/i,
    ],
  ]
  for (const [yaml, expected] of cases) {
    const { dir } = writeConfig(yaml)
    assert.match(configError(() => loadConfig({ cwd: dir, env: {} })).message, expected, yaml)
    const cli = await runCli(['plan'], { cwd: dir })
    assert.equal(cli.code, 2, cli.stderr)
    assert.doesNotMatch(cli.stderr, /unexpected error/)
  }
})

test('a rate below 1 kB/s is shown in whole bytes', () => {
  assert.equal(formatRate(5100, 20_900), '244 B/s')
  assert.equal(formatRate(5_000_000, 1000), '4.8 MB/s')
})
