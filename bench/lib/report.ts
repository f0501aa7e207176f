// The bench's results: one TSV row per run (appended to bench/results/<date>-results.tsv), and a Markdown
// summary of any set of rows: medians, min–max, ratios taken inside each repetition.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { ACTIVITY_KINDS } from './activity.js'

export const COLUMNS = [
  'batch',
  'started_at',
  'case',
  'scale',
  'table_mb',
  'index_mb',
  'target_wal',
  'jobs',
  'rep',
  'method',
  'wall_s',
  'user_s',
  'sys_s',
  'client_cpu_s',
  'maxrss_kb',
  'src_cpu_s',
  'tgt_cpu_s',
  'others_cpu_s',
  'load1',
  'exit',
  'verify',
  'phases',
  'target_activity',
  'tables',
  'largest_value_mb',
  'machine',
  'commit',
] as const

export type ResultRow = Record<(typeof COLUMNS)[number], string>

const clean = (value: string) => value.replace(/[\t\n]/g, ' ')

export function appendRow(file: string, row: ResultRow): void {
  if (!existsSync(file)) writeFileSync(file, `${COLUMNS.join('\t')}\n`)
  appendFileSync(file, `${COLUMNS.map((c) => clean(row[c] ?? '')).join('\t')}\n`)
}

export function readRows(file: string): ResultRow[] {
  const [head, ...lines] = readFileSync(file, 'utf8').split('\n').filter(Boolean)
  const names = (head ?? '').split('\t')
  return lines
    .filter((line) => !line.startsWith('batch\t'))
    .map((line) => {
      const values = line.split('\t')
      return Object.fromEntries(names.map((n, i) => [n, values[i] ?? ''])) as ResultRow
    })
}

export function median(values: readonly number[]): number {
  const s = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '–')

const ok = (r: ResultRow) => r.verify === 'OK' && r.exit === '0'
const clientCpu = (r: ResultRow) => Number(r.client_cpu_s)
const runKey = (r: ResultRow) => `${r.batch}/${r.case}/${r.scale}/${r.rep}`

/**
 * Wall-time ratios of `method` to `reference`, one per repetition in which both verified: the ratio is taken
 * between runs minutes apart, which holds better on a shared machine than absolute seconds do.
 */
export function ratios(rows: readonly ResultRow[], method: string, reference: string): number[] {
  const walls = new Map<string, number>()
  for (const r of rows) if (r.method === reference && ok(r)) walls.set(runKey(r), Number(r.wall_s))
  return rows
    .filter((r) => r.method === method && ok(r) && walls.has(runKey(r)))
    .map((r) => Number(r.wall_s) / walls.get(runKey(r))!)
}

interface PhaseFigure {
  wall: number
  src: number
  tgt: number
}

/** "name=wall/src/tgt,…" */
export function encodePhases(
  phases: ReadonlyArray<{ name: string; wallS: number; srcCpuS: number; tgtCpuS: number }>,
) {
  return phases.map((p) => `${p.name}=${fmt(p.wallS, 2)}/${fmt(p.srcCpuS, 2)}/${fmt(p.tgtCpuS, 2)}`).join(',')
}

function decodePhases(text: string): Map<string, PhaseFigure> {
  const result = new Map<string, PhaseFigure>()
  for (const part of text.split(',').filter(Boolean)) {
    const [name, values] = part.split('=')
    const [wall, src, tgt] = (values ?? '').split('/').map(Number)
    // a phase name can repeat (it should not); keep the sum
    const prev = result.get(name!) ?? { wall: 0, src: 0, tgt: 0 }
    result.set(name!, { wall: prev.wall + wall!, src: prev.src + src!, tgt: prev.tgt + tgt! })
  }
  return result
}

/** "table=format/MiB/seconds,…" of the biggest tables, then "+N more (median s)". */
export function encodeTables(
  tables: ReadonlyArray<{ table: string; format: string; bytes: number; durationMs: number }>,
  keep = 8,
): string {
  const sorted = [...tables].sort((a, b) => b.bytes - a.bytes)
  const head = sorted
    .slice(0, keep)
    .map((t) => `${t.table}=${t.format}/${fmt(t.bytes / 1048576, 1)}/${fmt(t.durationMs / 1000, 2)}`)
  const rest = sorted.slice(keep)
  if (rest.length)
    head.push(
      `+${rest.length} more=mixed/${fmt(rest.reduce((s, t) => s + t.bytes, 0) / 1048576, 1)}/${fmt(median(rest.map((t) => t.durationMs / 1000)), 3)}`,
    )
  return head.join(',')
}

export interface SummaryOptions {
  readonly baseline: string
  /** A second reference for ratios, when present in the rows. */
  readonly secondary?: string
  /** Method order in the tables. */
  readonly order: readonly string[]
}

/** The Markdown summary of these rows, one section per (case, scale). */
export function summarize(rows: readonly ResultRow[], options: SummaryOptions): string {
  const out: string[] = []
  const groups = new Map<string, ResultRow[]>()
  for (const r of rows) {
    const key = `${r.case}\u0000${r.scale}`
    groups.set(key, [...(groups.get(key) ?? []), r])
  }
  const rank = (m: string) => {
    const i = options.order.indexOf(m)
    return i < 0 ? options.order.length : i
  }
  for (const group of groups.values()) {
    const first = group[0]!
    const wal = [...new Set(group.map((r) => r.target_wal))].join('/')
    const jobs = [...new Set(group.map((r) => r.jobs))].join('/')
    const reps = new Set(group.map(runKey)).size
    const tableGb = Number(first.table_mb) / 1024
    out.push(
      `### ${first.case}, scale ${first.scale}: ${first.table_mb} MB of table data + ${first.index_mb} MB of indexes; ` +
        `target wal_level=${wal}; jobs ${jobs}; ${reps} repetition(s)\n`,
    )
    const methods = [...new Set(group.map((r) => r.method))].sort(
      (a, b) => rank(a) - rank(b) || a.localeCompare(b),
    )
    const secondary = options.secondary && methods.includes(options.secondary) ? options.secondary : undefined
    out.push(
      `| method | runs OK | wall s median (min–max) | × ${options.baseline} (median, min–max) |` +
        (secondary ? ` × ${secondary} |` : '') +
        " MB/s | client CPU s | client CPU s/GB | src CPU s | tgt CPU s | total CPU s | peak RSS MB | others' load (cores) |",
    )
    out.push(`|---|---|---|---|${secondary ? '---|' : ''}---|---|---|---|---|---|---|---|`)
    const phaseLines: string[] = []
    const failures: string[] = []
    for (const method of methods) {
      const all = group.filter((r) => r.method === method)
      const good = all.filter(ok)
      for (const r of all.filter((x) => !ok(x)))
        failures.push(`- ${method} rep ${r.rep}: exit ${r.exit}, ${r.verify}`)
      const use = good.length ? good : all
      const walls = use.map((r) => Number(r.wall_s))
      const wall = median(walls)
      const ratio = ratios(group, method, options.baseline)
      const range = (xs: number[]) => {
        const [lo, hi] = [fmt(Math.min(...xs), 2), fmt(Math.max(...xs), 2)]
        return lo === hi ? '' : ` (${lo}–${hi})`
      }
      const second = secondary ? ratios(group, method, secondary) : []
      const cpu = median(use.map(clientCpu))
      const src = median(use.map((r) => Number(r.src_cpu_s)))
      const tgt = median(use.map((r) => Number(r.tgt_cpu_s)))
      const total = median(use.map((r) => clientCpu(r) + Number(r.src_cpu_s) + Number(r.tgt_cpu_s)))
      const rss = Math.max(...use.map((r) => Number(r.maxrss_kb) / 1024))
      const others = median(use.map((r) => Number(r.others_cpu_s) / Number(r.wall_s)))
      out.push(
        `| ${method} | ${good.length}/${all.length} | ${fmt(wall)} (${fmt(Math.min(...walls))}–${fmt(Math.max(...walls))}) | ` +
          `${ratio.length ? `**${fmt(median(ratio), 2)}**${range(ratio)}` : '–'} |` +
          (secondary ? ` ${second.length ? `${fmt(median(second), 2)}${range(second)}` : '–'} |` : '') +
          ` ${fmt(Number(first.table_mb) / wall, 0)} | ${fmt(cpu)} | ${fmt(cpu / tableGb, 2)} | ${fmt(src)} | ${fmt(tgt)} | ` +
          `${fmt(total)} | ${fmt(rss, 0)} | ${fmt(others, 2)} |`,
      )
      const phases = use.map((r) => decodePhases(r.phases))
      const names = [...new Set(phases.flatMap((p) => [...p.keys()]))]
      for (const name of names) {
        const pick = (k: keyof PhaseFigure) => median(phases.map((p) => p.get(name)?.[k] ?? NaN))
        phaseLines.push(
          `| ${method} | ${name} | ${fmt(pick('wall'), 2)} | ${fmt(pick('src'))} | ${fmt(pick('tgt'))} |`,
        )
      }
    }
    if (phaseLines.length) {
      out.push(
        '\nPhases (medians): wall seconds, and the CPU seconds of each server over the phase (sampled every 0.5 s, interpolated):\n',
      )
      out.push('| method | phase | wall s | src CPU s | tgt CPU s |', '|---|---|---|---|---|', ...phaseLines)
    }
    const activityLines = activityTable(group.filter(ok), methods)
    if (activityLines.length) {
      out.push(
        "\nTarget backends' time by statement (medians; sampled from pg_stat_activity every 0.5 s; two busy backends count twice):\n",
      )
      out.push(...activityLines)
    }
    const tableLines = tableRates(group.filter((r) => ok(r) && r.tables))
    if (tableLines.length) {
      out.push(
        "\ntablehaul per table (medians; MB are COPY bytes on the wire; a table's seconds include its indexes and keys, built in the same transaction):\n",
      )
      out.push('| table | format | MB | s | MB/s |', '|---|---|---|---|---|', ...tableLines)
    }
    if (failures.length) out.push('\nRuns that did not verify or failed:\n', ...failures)
    out.push('')
  }
  const memory = memoryLines(rows)
  if (memory.length) {
    out.push('### tablehaul peak RSS by dataset\n')
    out.push(
      '| case | scale | table data MB | largest value MB | runs | peak RSS MB (max of runs) |',
      '|---|---|---|---|---|---|',
      ...memory,
      '',
    )
  }
  return out.join('\n')
}

export function encodeActivity(seconds: ReadonlyMap<string, number>): string {
  return [...seconds.entries()].map(([kind, s]) => `${kind}=${fmt(s, 1)}`).join(',')
}

function activityTable(rows: readonly ResultRow[], methods: readonly string[]): string[] {
  const lines: string[] = []
  for (const method of methods) {
    const runs = rows
      .filter((r) => r.method === method && r.target_activity)
      .map(
        (r) => new Map(r.target_activity.split(',').map((p) => [p.split('=')[0]!, Number(p.split('=')[1])])),
      )
    if (!runs.length) continue
    const cells = ACTIVITY_KINDS.map((k) => fmt(median(runs.map((m) => m.get(k) ?? 0))))
    lines.push(`| ${method} | ${cells.join(' | ')} |`)
  }
  if (!lines.length) return []
  return [
    `| method | ${ACTIVITY_KINDS.map((k) => `${k} s`).join(' | ')} |`,
    `|---|${ACTIVITY_KINDS.map(() => '---').join('|')}|`,
    ...lines,
  ]
}

function tableRates(rows: readonly ResultRow[]): string[] {
  const byTable = new Map<string, Array<{ format: string; mb: number; s: number }>>()
  for (const r of rows) {
    for (const part of r.tables.split(',').filter(Boolean)) {
      const eq = part.lastIndexOf('=')
      const [format, mb, s] = part.slice(eq + 1).split('/')
      const name = part.slice(0, eq)
      byTable.set(name, [...(byTable.get(name) ?? []), { format: format!, mb: Number(mb), s: Number(s) }])
    }
  }
  return [...byTable.entries()].map(([table, xs]) => {
    const mb = median(xs.map((x) => x.mb))
    const s = median(xs.map((x) => x.s))
    const formats = [...new Set(xs.map((x) => x.format))].join('/')
    const label = table.startsWith('+') ? `${table} (s = median per table)` : table
    return `| ${label} | ${formats} | ${fmt(mb)} | ${fmt(s, table.startsWith('+') ? 3 : 2)} | ${table.startsWith('+') ? '–' : fmt(mb / s, 0)} |`
  })
}

function memoryLines(rows: readonly ResultRow[]): string[] {
  const byDataset = new Map<string, ResultRow[]>()
  for (const r of rows.filter((x) => x.method === 'tablehaul' && x.exit === '0')) {
    const key = `${r.case}\u0000${r.scale}`
    byDataset.set(key, [...(byDataset.get(key) ?? []), r])
  }
  return [...byDataset.values()]
    .sort((a, b) => a[0]!.case.localeCompare(b[0]!.case) || Number(a[0]!.scale) - Number(b[0]!.scale))
    .map((rs) => {
      const r = rs[0]!
      const rss = Math.max(...rs.map((x) => Number(x.maxrss_kb) / 1024))
      return `| ${r.case} | ${r.scale} | ${r.table_mb} | ${fmt(Number(r.largest_value_mb), 2)} | ${rs.length} | ${fmt(rss, 0)} |`
    })
}
