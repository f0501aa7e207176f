import assert from 'node:assert/strict'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { makeDirectory } from '../src/files.js'
import { tempDir } from './helpers/config.js'

test('makeDirectory makes every missing parent, keeps an existing folder and refuses a file in the way', () => {
  const dir = tempDir()
  const deep = path.join(dir, 'a', 'b', 'c')
  makeDirectory(deep, 0o700)
  assert.ok(statSync(deep).isDirectory())
  assert.equal(statSync(deep).mode & 0o777, 0o700)
  makeDirectory(deep)
  writeFileSync(path.join(dir, 'file'), '')
  assert.throws(() => makeDirectory(path.join(dir, 'file')), { code: 'EEXIST' })
  assert.throws(() => makeDirectory(path.join(dir, 'file', 'below')), { code: 'ENOTDIR' })
})

test('makeDirectory gives up with ENOENT where mkdir cannot create anything (under /proc), instead of looping', (t) => {
  if (!existsSync('/proc/self')) return t.skip('needs a Linux /proc')
  assert.throws(() => makeDirectory('/proc/tablehaul-nope/logs'), { code: 'ENOENT' })
})
