import assert from 'node:assert/strict'
import { test } from 'node:test'
import { activityKind } from '../../bench/lib/activity.js'
import { sqlFile } from '../../bench/lib/datasets.js'
import { COLUMNS, type ResultRow, ratios, summarize } from '../../bench/lib/report.js'

function row(fields: Partial<ResultRow>): ResultRow {
  const base = Object.fromEntries(COLUMNS.map((c) => [c, ''])) as ResultRow
  return {
    ...base,
    batch: 'b1',
    case: 'standard',
    scale: '1',
    table_mb: '1024',
    index_mb: '200',
    target_wal: 'replica',
    jobs: '2',
    exit: '0',
    verify: 'OK',
    user_s: '1',
    sys_s: '1',
    client_cpu_s: '2',
    maxrss_kb: '102400',
    src_cpu_s: '5',
    tgt_cpu_s: '20',
    others_cpu_s: '0',
    ...fields,
  }
}

test('ratios pair each run with the baseline of the same repetition, and leave out runs that did not verify', () => {
  const rows = [
    row({ rep: '1', method: 'psql_pipe', wall_s: '20' }),
    row({ rep: '1', method: 'tablehaul', wall_s: '15' }),
    row({ rep: '2', method: 'psql_pipe', wall_s: '40' }),
    row({ rep: '2', method: 'tablehaul', wall_s: '20' }),
    row({ rep: '3', method: 'psql_pipe', wall_s: '20', verify: 'FAIL: table x missing' }),
    row({ rep: '3', method: 'tablehaul', wall_s: '1' }),
    row({ rep: '4', method: 'psql_pipe', wall_s: '20' }),
    row({ rep: '4', method: 'tablehaul', wall_s: '2', exit: '1', verify: 'not verified (exit 1)' }),
  ]
  assert.deepEqual(ratios(rows, 'tablehaul', 'psql_pipe'), [0.75, 0.5])
  const summary = summarize(rows, { baseline: 'psql_pipe', order: ['psql_pipe', 'tablehaul'] })
  assert.match(summary, /\| tablehaul \| 3\/4 \| 15\.0 \(1\.0–20\.0\) \| \*\*0\.63\*\* \(0\.50–0\.75\) \|/)
  assert.match(summary, /- tablehaul rep 4: exit 1, not verified \(exit 1\)/)
  assert.match(summary, /- psql_pipe rep 3: exit 0, FAIL: table x missing/)
})

test('client CPU per GB is taken over the table data of the dataset', () => {
  const rows = [row({ rep: '1', method: 'psql_pipe', wall_s: '10', client_cpu_s: '3' })]
  assert.match(
    summarize(rows, { baseline: 'psql_pipe', order: [] }),
    /\| 102 \| 3\.0 \| 3\.00 \| 5\.0 \| 20\.0 \| 28\.0 \| 100 \|/,
  )
})

test('statements are classed by the work they make the target do', () => {
  assert.equal(activityKind('COPY public.accounts (aid, bid) FROM stdin;'), 'copy')
  assert.equal(
    activityKind('CREATE UNIQUE INDEX wide_ext_id_key ON public.wide USING btree (ext_id)'),
    'index',
  )
  assert.equal(
    activityKind('ALTER TABLE ONLY public.accounts\n    ADD CONSTRAINT accounts_pkey PRIMARY KEY (aid);'),
    'index',
  )
  assert.equal(
    activityKind('ALTER TABLE public.accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX x'),
    'alter',
  )
  assert.equal(
    activityKind(
      'ALTER TABLE ONLY public.wide ADD CONSTRAINT wide_category_fk FOREIGN KEY (category_id) REFERENCES public.categories(id)',
    ),
    'fk',
  )
  assert.equal(activityKind('CREATE TABLE many.t0001 (id integer NOT NULL)'), 'ddl')
  assert.equal(activityKind('VACUUM ANALYZE public.wide'), 'vacuum')
  assert.equal(activityKind("SELECT pg_catalog.setval('public.wide_id_seq', 1000000, true)"), 'select')
  assert.equal(activityKind('COMMIT'), 'commit')
  assert.equal(activityKind('TRUNCATE ONLY public.wide'), 'other')
})

test("the dataset SQL keeps psql's variable syntax: :name and :'name' are filled in, casts are left alone", () => {
  const sql = sqlFile('standard-3-accounts.sql', { n_acc: 400, n_br: 10 })
  assert.match(sql, /1 \+ \(g - 1\) % 10, \(random\(\) \* 2000000\)::int/)
  assert.match(sql, /generate_series\(1, 400\) g/)
  assert.doesNotMatch(sql, /:n_/)
})
