import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import ts from 'typescript'
import { ROOT, staleBuild } from '../helpers/cli.js'

test('every export of the public API carries TSDoc', () => {
  const entry = path.join(ROOT, 'src', 'index.ts')
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
  })
  const checker = program.getTypeChecker()
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!
  const exported = checker.getExportsOfModule(moduleSymbol)
  assert.ok(exported.length > 30, `the API exports ${exported.length} names`)
  const undocumented = exported
    .map((symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol))
    .filter((symbol) => ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() === '')
    .map((symbol) => symbol.name)
  assert.deepEqual(undocumented, [], 'exports without a TSDoc comment')
})

test('the built package exports the library API that the README shows', async () => {
  // What `import … from 'tablehaul'` loads: package.json "exports" points at dist/index.js (npm test builds it).
  assert.equal(staleBuild(), undefined, 'dist/ holds the current source')
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    exports: { '.': { default: string } }
  }
  const api = (await import(path.join(ROOT, pkg.exports['.'].default))) as Record<string, unknown>
  for (const name of ['TransferJob', 'Verifier', 'planTransfer', 'exportCsv', 'importCsv', 'loadConfig']) {
    assert.equal(typeof api[name], 'function', name)
  }
  assert.equal(typeof api.ERROR_CODES, 'object')
})
