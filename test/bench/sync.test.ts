import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseOptions } from '../../bench/lib/options.js'
import { type SyncRow, summarizeSync, syncTargets } from '../../bench/lib/sync.js'

function row(round: number, share: number, run: SyncRow['run'], wallS: number, walBytes: number): SyncRow {
  return {
    round,
    share,
    run,
    wallS,
    clientCpuS: 1,
    srcCpuS: 1,
    tgtCpuS: 1,
    copyBytes: 1048576,
    walBytes,
    othersCpuS: 0,
    exit: 0,
    verify: 'OK',
    notes: [],
  }
}

test('the sync case is asked for by name only: all stays the copy cases', () => {
  const syncOnly = parseOptions(['--cases', 'sync'])
  assert.equal(syncOnly.sync, true)
  assert.deepEqual(syncOnly.cases, [])
  assert.equal(parseOptions(['--cases', 'standard,sync']).sync, true)
  assert.deepEqual(parseOptions(['--cases', 'standard,sync']).cases, ['standard'])
  assert.equal(parseOptions(['--cases', 'all']).sync, false)
  assert.equal(parseOptions([]).sync, false)
})

test("the targets are the medians of each round's ratios to its own replace, met or not", () => {
  const rows = [
    row(1, 0.01, 'sync', 2, 10),
    row(1, 0.01, 'sync, nothing changed', 1, 0),
    row(1, 0.01, 'sync with changed:', 1, 10),
    row(1, 0.01, 'replace', 10, 100),
    row(2, 0.01, 'sync', 6, 2),
    row(2, 0.01, 'replace', 20, 100),
    row(3, 0.5, 'sync', 12, 100),
    row(3, 0.5, 'replace', 10, 100),
  ]
  const lines = syncTargets(rows)
  const line = (what: string) => lines.find((l) => l.startsWith(`| ${what}`))!
  // round 1: 2/10 = 0.2, round 2: 6/20 = 0.3; median 0.25
  assert.match(line('1 % changed: sync wall time'), /\| 0\.250 \(0\.20–0\.30\) \| met \|$/)
  assert.match(line('1 % changed: sync with `changed:`'), /\| 0\.100 \| met \|$/)
  assert.match(line('1 % changed: sync target WAL'), /\| 0\.060 \(0\.02–0\.10\) \| \*\*not met\*\* \|$/)
  assert.match(line('50 % changed: sync wall time'), /\| 1\.200 \| \*\*not met\*\* \|$/)
  assert.match(line('50 % changed: sync with'), /not measured \|$/)
  const summary = summarizeSync(rows, undefined, 1)
  assert.match(summary, /\| 1 \| 1 % \| sync \| 2\.00 \| \*\*0\.20\*\* \|/)
})
