import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import ts from 'typescript'
import { ROOT } from '../helpers/cli.js'

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
