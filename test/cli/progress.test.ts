import assert from 'node:assert/strict'
import { type TestContext, describe, test } from 'node:test'
import { ProgressDisplay } from '../../src/cli/progress.js'
import type { RunReport, TableResult } from '../../src/report/run-report.js'
import { TransferEmitter, type TransferEventName, type TransferEvents } from '../../src/report/events.js'
import { waitFor } from '../helpers/cli.js'

/** Emits a run's events by hand: the display only ever sees events, whoever sends them. */
class ScriptedRun extends TransferEmitter {
  send<K extends TransferEventName>(event: K, payload: TransferEvents[K]): void {
    this.emit(event, payload)
  }
}

class Screen {
  readonly writes: string[] = []
  constructor(
    readonly isTTY: boolean,
    readonly columns = 72,
  ) {}
  write(text: string): boolean {
    this.writes.push(text)
    return true
  }
  get text(): string {
    return this.writes.join('')
  }
  /** What is left on the rows the writes drew on: escape sequences removed, cursor moves split rows. */
  get rows(): string[] {
    return (
      this.text
        // eslint-disable-next-line no-control-regex -- terminal control sequences start with ESC
        .split(/\n|\r|\u001b\[\d*[ABGHJ]|\u001b[78]/)
        // eslint-disable-next-line no-control-regex
        .map((row) => row.replace(/\u001b\[[?0-9;]*[a-zA-Z]/g, ''))
    )
  }
}

const LONG_NAME = 'reporting."a table name far too long to fit in a narrow terminal window"'

function result(table: string, fields: Partial<TableResult>): TableResult {
  return {
    table,
    source: table,
    status: 'copied',
    rows: 1000,
    bytes: 60 * 1024 * 1024,
    durationMs: 3000,
    mode: 'replace',
    format: 'binary',
    created: false,
    attempts: 1,
    ...fields,
  }
}

function start(run: ScriptedRun): void {
  run.send('run.started', {
    runId: 'r',
    kind: 'run',
    source: 's',
    target: 't',
    startedAt: new Date().toISOString(),
  })
  run.send('run.planned', {
    warnings: [],
    tables: [LONG_NAME, 'sales.orders'].map((table) => ({
      table,
      source: table,
      mode: 'replace' as const,
      format: 'binary' as const,
      targetState: 'exists' as const,
      estimatedBytes: 100 * 1024 * 1024,
      estimatedRows: 1_000_000,
    })),
  })
  for (const table of [LONG_NAME, 'sales.orders'])
    run.send('table.started', {
      table,
      attempt: 1,
      estimatedBytes: 100 * 1024 * 1024,
      estimatedRows: 1_000_000,
    })
  run.send('table.progress', {
    table: 'sales.orders',
    bytes: 42 * 1024 * 1024,
    estimatedBytes: 100 * 1024 * 1024,
  })
}

/** A display on `screen` of a scripted run that has started copying; the display stops with the test. */
function watch(
  t: TestContext,
  screen: Screen,
  options?: ConstructorParameters<typeof ProgressDisplay>[2],
): ScriptedRun {
  const run = new ScriptedRun()
  const display = new ProgressDisplay(run, screen, options)
  t.after(() => display.stop())
  start(run)
  return run
}

describe('progress display', () => {
  test('on a terminal: a live line per table and one for the run, each frame one write, never wider than the terminal, cleared at the end', async (t) => {
    const screen = new Screen(true, 72)
    const run = watch(t, screen)
    await waitFor(() => screen.text.includes('42%'), 10_000, 'a frame with the progress of sales.orders')

    const frames = screen.writes.filter((w) => w.includes('sales.orders'))
    assert.ok(frames.length > 0)
    for (const frame of frames) {
      assert.ok(
        frame.startsWith('\u001b[?2026h') && frame.endsWith('\u001b[?2026l'),
        'a frame is one synchronized write',
      )
    }
    const frame = screen.rows
    assert.ok(
      frame.some((row) => /^run\s+.*21%.*0\/2 tables.*42\.0 MB/.test(row)),
      'a line for the run',
    )
    assert.ok(
      frame.some((row) => /^sales\.orders\s+.*42%.*42\.0 MB of ~100 MB/.test(row)),
      'a line per table',
    )
    assert.ok(
      frame.some((row) => row.startsWith('reporting."a table') && row.includes('…')),
      'a long name is cut',
    )

    run.send(
      'table.failed',
      result(LONG_NAME, {
        status: 'failed',
        rows: 0,
        error: {
          code: 'TABLE_COPY_FAILED',
          message: 'target failed during COPY: disk full',
          hint: 'free space and run again',
        },
      }),
    )
    run.send('table.copied', result('sales.orders', {}))
    run.send('run.finished', {} as RunReport)

    for (const row of screen.rows) assert.ok(row.length <= 71, `a row of ${row.length} characters: ${row}`)
    const failure = screen.rows.join(' ').replace(/\s+/g, ' ')
    assert.ok(
      failure.includes(`FAILED ${LONG_NAME}: target failed during COPY: disk full; free space and run again`),
    )
    const last = screen.writes.at(-1)!
    assert.ok(last.includes('\u001b[?25h'), 'the cursor is shown again')
    assert.ok(last.includes('\u001b[0J'), 'the live lines are cleared')
  })

  test("an ended table counts as its whole estimate: COPY's bytes are not the catalog's size on disk", async (t) => {
    const screen = new Screen(true, 100)
    const run = watch(t, screen)
    // 60 MB of data from a table the catalog put at 100 MB, and 42 of sales.orders' 100 MB: 142 of the
    // run's 200 MB are behind us (71 %), not the 102 MB moved (51 %).
    run.send('table.copied', result(LONG_NAME, {}))
    await waitFor(
      () => screen.rows.some((row) => /^run\s+.*71%\s+1\/2 tables\s+102 MB/.test(row)),
      10_000,
      'a run line at 71% with 1/2 tables done',
    )
  })

  test("a table the run skips (a resumed run's, already copied) counts as done and leaves the total and the ETA", async (t) => {
    const screen = new Screen(true, 100)
    const run = watch(t, screen)
    run.send(
      'table.skipped',
      result(LONG_NAME, { status: 'skipped', skipped: 'already-copied', durationMs: 0, attempts: 0 }),
    )
    // 42 MB of the 100 MB still to move, not of 200 MB; one of the two tables is done.
    await waitFor(
      () => screen.rows.some((row) => /^run\s+.*42%\s+1\/2 tables\s+42\.0 MB/.test(row)),
      10_000,
      'a run line at 42% with 1/2 tables done',
    )
  })

  test('in a pipe: a line per active table every few seconds and one as each table ends, without escape codes', async (t) => {
    const screen = new Screen(false)
    const run = watch(t, screen, { intervalSeconds: 0.05 })
    await waitFor(() => screen.text.includes('  sales.orders  42%'), 10_000, 'a progress line')
    run.send('table.progress', {
      table: 'sales.orders',
      bytes: 60 * 1024 * 1024,
      estimatedBytes: 100 * 1024 * 1024,
      finishing: true,
    })
    await waitFor(
      () => screen.text.includes('  sales.orders  data in, finishing (indexes, commit)  60.0 MB  '),
      10_000,
      'a line that says the data is in and the table is being finished',
    )
    run.send('table.copied', result('sales.orders', {}))
    run.send(
      'table.failed',
      result(LONG_NAME, {
        status: 'failed',
        rows: 0,
        error: { code: 'TABLE_COPY_FAILED', message: 'target failed during COPY: disk full' },
      }),
    )
    run.send('run.finished', {} as RunReport)

    assert.ok(!screen.text.includes('\u001b'), 'no terminal escapes')
    const lines = screen.text.split('\n')
    assert.ok(lines.includes('planned 2 tables (~200 MB)'))
    assert.ok(
      lines.some((l) => /^ {2}sales\.orders {2}42% {2}~420,000 rows {2}42\.0 MB of ~100 MB {2}/.test(l)),
    )
    assert.ok(
      lines.some((l) => l.startsWith(`  ${LONG_NAME}  0%`)),
      'names are written whole in a log',
    )
    assert.ok(lines.includes('OK sales.orders 1,000 rows, 60.0 MB in 3.0s [1/2]'))
    assert.ok(lines.includes(`FAILED ${LONG_NAME} target failed during COPY: disk full [2/2]`))
  })
})
