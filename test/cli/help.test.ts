import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'

const COMMANDS = ['run', 'plan', 'verify', 'export', 'import', 'config', 'init', 'local', 'demo']
const SECRET = 'S3cret-in-the-environment'

describe('help and usage errors', () => {
  for (const command of COMMANDS) {
    test(`tablehaul ${command} --help shows examples and never a secret`, async () => {
      const result = await runCli([command, '--help'], {
        env: { TABLEHAUL_SOURCE_URL: `postgres://u:${SECRET}@db/x`, PGPASSWORD: SECRET },
      })
      assert.equal(result.code, 0)
      assert.match(result.stdout, new RegExp(`^Usage: tablehaul ${command} `))
      assert.match(result.stdout, /\nExamples?:\n {2}\$ (npx )?tablehaul /)
      assert.ok(!result.stdout.includes(SECRET))
    })
  }

  test('the commands that read the configuration all take the same config and server options', async () => {
    for (const command of ['run', 'plan', 'verify', 'export', 'import', 'config']) {
      const { stdout } = await runCli([command, '--help'])
      for (const option of ['--config <file>', '--source <url>', '--target <url>'])
        assert.ok(stdout.includes(option), `${command} --help lists ${option}`)
    }
    for (const command of ['run', 'plan', 'verify', 'config']) {
      const { stdout } = await runCli([command, '--help'])
      assert.ok(stdout.includes('--table <pattern>') && stdout.includes('--exclude <pattern>'), command)
    }
  })

  test('--mode says that a table with its own mode: in tables: keeps it', async () => {
    // A nightly config syncs some tables by name; `run --mode replace` to reload everything once does not
    // reload those, and the help must say so.
    for (const command of ['run', 'plan']) {
      const { stdout } = await runCli([command, '--help'])
      assert.match(
        stdout.replace(/\s+/g, ' '),
        /--mode <mode> .* for the tables without a mode: of their own in tables:, which keep theirs/,
        command,
      )
    }
  })

  test('without a command, the overview lists every command and exits 2', async () => {
    const result = await runCli([])
    assert.equal(result.code, 2)
    for (const command of COMMANDS) assert.match(result.stdout, new RegExp(`\\n {2}${command} `))
  })

  test('a mistyped command or option suggests the right one and exits 2', async () => {
    const command = await runCli(['verfy'])
    assert.equal(command.code, 2)
    assert.match(command.stderr, /unknown command 'verfy'\n\(Did you mean verify\?\)/)
    const option = await runCli(['plan', '--jsno'], { cwd: tempDir() })
    assert.equal(option.code, 2)
    assert.match(option.stderr, /unknown option '--jsno'\n\(Did you mean --json\?\)/)
  })

  test('a run without any source says how to give one, and exits 2', async () => {
    const result = await runCli(['plan'], { cwd: tempDir() })
    assert.equal(result.code, 2)
    assert.match(result.stderr, /tablehaul: error: source\.url: no source is configured/)
    assert.match(
      result.stderr,
      /what to do: give --source postgres:\/\/user@host\/db, set TABLEHAUL_SOURCE_URL/,
    )
  })
})
