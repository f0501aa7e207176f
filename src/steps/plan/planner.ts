import { closest } from '../../closest.js'
import { type Catalog, type SequenceInfo, type TableInfo, firesInOurSessions } from '../../catalog/catalog.js'
import { TableRef, quoteIdent } from '../../db/table-ref.js'
import type { Config, LoadMode, TableEntry } from '../../config/schema.js'
import { enumLabelChanges, enumLeftAloneNote, labelList } from '../schema/enum-labels.js'
import { TablehaulError, messageOf } from '../../errors.js'
import { escapeControl } from '../../text.js'
import { checkCompatibility, type SourceColumn } from './compatibility.js'
import { missingSyncKeyNote, syncKeyOf, targetKeyStatements } from './sync-key.js'
import { TablePattern } from './table-pattern.js'

/** Where a table's rows come from. */
export type CopySource =
  | { readonly kind: 'table'; readonly table: TableInfo; readonly where?: string | undefined }
  | { readonly kind: 'query'; readonly query: string; readonly columns: readonly SourceColumn[] }

/** Everything the copy of one target table needs, decided before anything is written. */
export interface TablePlan {
  readonly source: CopySource
  /** `schema.table` of the source table, or `query`. */
  readonly sourceLabel: string
  readonly target: TableRef
  readonly mode: LoadMode
  /** missing: created by this run; exists: loaded into. */
  readonly targetState: 'missing' | 'exists'
  /** The existing target table, when there is one. */
  readonly targetTable: TableInfo | undefined
  /**
   * mode sync into an existing table: the columns rows are matched by. Without it (the target is missing,
   * or the table has no usable key) the table is copied in full.
   */
  readonly syncKey?: readonly string[] | undefined
  /** mode sync: the entry's `changed:` column, whose values past the last sync's mark are written first. */
  readonly changedColumn?: string | undefined
  /** Why the mode differs from the one asked for (`sync → replace: no key (…)`). */
  readonly modeNote?: string | undefined
  /**
   * mode sync: the foreign keys of tables this run does not copy that reference this one (`name of
   * schema.table`). TRUNCATE refuses the table, so it is only ever synced by its differences.
   */
  readonly referencedFromOutside?: readonly string[] | undefined
  /** The columns COPY moves, in the same order on both sides (generated columns left out). */
  readonly columns: readonly SourceColumn[]
  readonly format: 'text' | 'binary'
  readonly estimatedBytes: number
  readonly estimatedRows: number | null
  /** Why this table cannot be copied; it then fails without anything on the target being touched. */
  readonly problem?: TablehaulError | undefined
}

/**
 * The table's rows as the larger estimate of the two sides: the target was analysed by the copy that filled
 * it, the source may never have been. 0 when neither knows.
 */
export function rowEstimate(plan: TablePlan): number {
  return Math.max(plan.estimatedRows ?? 0, plan.targetTable?.estimatedRows ?? 0)
}

export interface RunPlan {
  readonly tables: readonly TablePlan[]
  /**
   * Sequences no column owns that a table pattern selects (`sales.*` selects the sequences of sales):
   * created where missing and set to the source's state. Owned sequences come with their tables.
   */
  readonly sequences: readonly SequenceInfo[]
  /**
   * Partitioned tables selected that have no partition holding rows (none at all, or only partitioned
   * ones without partitions of their own): nothing to copy, but the target gets them, with their indexes.
   */
  readonly emptyPartitioned: readonly TableInfo[]
  readonly warnings: readonly string[]
}

/** Reads a query's result columns (name and type) without running it to completion. */
export type QueryProbe = (query: string) => Promise<SourceColumn[]>

export interface PlannerOptions {
  readonly config: Pick<Config, 'tables' | 'exclude' | 'mode' | 'schema' | 'copy'>
  readonly source: Catalog
  readonly target: Catalog
  readonly probeQuery: QueryProbe
  /**
   * The source's views and materialized views: a `tables:` entry that names or matches only views selects
   * them (they come after the data), and is not an unknown name.
   * @default none
   */
  readonly views?: readonly TableRef[] | undefined
  /**
   * The target tables an earlier replace or sync loaded from this same source database (their sync marks
   * say so): one a pattern still selects by name but the source no longer has is warned of.
   * @default none
   */
  readonly loadedBefore?: readonly TableRef[] | undefined
}

interface Selection {
  readonly table: TableInfo
  /** The entry's own mode, when it has one. */
  readonly mode: LoadMode | undefined
  /** The entry's `changed:` column. */
  readonly changed: string | undefined
  readonly where: string | undefined
  readonly into: TableRef | undefined
  /** The config entry, e.g. `tables.2`, for messages. */
  readonly from: string
  readonly exact: boolean
}

/**
 * Resolves the configuration against the source and target catalogs: which tables, into which target
 * tables, in which order, with which COPY format, and which of them cannot be copied and why. A name that
 * matches nothing is an error for the whole run, raised before anything is written.
 */
export class Planner {
  constructor(private readonly options: PlannerOptions) {}

  async plan(): Promise<RunPlan> {
    const { config, source } = this.options
    const warnings: string[] = []
    const notFound: string[] = []
    const selections: Selection[] = []
    const queries: Array<{ query: string; into: TableRef; from: string }> = []
    const patterns: TablePattern[] = []

    const entries: readonly TableEntry[] = config.tables ?? ['*.*']
    entries.forEach((entry, index) => {
      const from = `tables.${index}`
      if (typeof entry !== 'string' && 'query' in entry) {
        queries.push({ query: entry.query, into: parseTarget(entry.into, `${from}.into`), from })
        return
      }
      const text = typeof entry === 'string' ? entry : entry.name
      const pattern = TablePattern.parse(text, from)
      if (!pattern.isExact && (typeof entry === 'string' || !entry.into)) patterns.push(pattern)
      const where = typeof entry === 'string' ? undefined : entry.where
      const mode = typeof entry === 'string' ? undefined : entry.mode
      const changed = typeof entry === 'string' ? undefined : entry.changed
      const into =
        typeof entry === 'string' || !entry.into ? undefined : parseTarget(entry.into, `${from}.into`)
      const candidates = source.tables.filter(
        // Tables that belong to an extension come with the extension; only an exact name selects them.
        (table) => pattern.matches(table.ref) && (pattern.isExact || !table.extension),
      )
      if (candidates.length === 0) {
        const views = this.options.views ?? []
        if (!into && views.some((view) => pattern.matches(view))) return
        // Without a tables: list, an empty source is not an error: there is just nothing to copy.
        if (config.tables !== undefined)
          notFound.push(describeNotFound(pattern, from, source, this.loadedBeforeStill(pattern)))
        return
      }
      if (into && (candidates.length > 1 || candidates[0]!.kind === 'p')) {
        throw new TablehaulError(
          'CONFIG_INVALID',
          `${from}.into: "${text}" matches ${candidates.length} tables, but into names one target table`,
          {
            hint: 'use into only with the name of one (non-partitioned) table',
          },
        )
      }
      for (const table of candidates)
        selections.push({ table, mode, changed, where, into, from, exact: pattern.isExact })
    })
    if (notFound.length > 0) {
      // One line per name, each escaped here (a suggestion is a source table's name: data), so that the
      // report may show the lines as lines (shownToPeople).
      throw new TablehaulError('TABLE_NOT_FOUND', notFound.map(escapeControl).join('\n'), {
        hint: 'nothing was written; correct the name in tables: (quote mixed-case names: sales."Orders"), or remove it from tables: if the source no longer has that table; `tablehaul plan --table \'*.*\'` lists every table of the source',
      })
    }

    const excludes = config.exclude.map((text, index) => TablePattern.parse(text, `exclude.${index}`))
    for (const pattern of excludes) {
      const views = this.options.views ?? []
      if (
        !source.tables.some((table) => pattern.matches(table.ref)) &&
        !views.some((v) => pattern.matches(v))
      )
        warnings.push(`exclude "${pattern.text}" matches no source table or view`)
    }

    warnings.push(...this.partitionsOnlyOnTarget(selections))
    const chosen = this.resolveSelections(selections, excludes)
    const emptyPartitioned = this.emptyPartitioned(selections, excludes)
    const plans: TablePlan[] = []
    for (const selection of chosen.values()) plans.push(this.planTable(selection))
    for (const query of queries) plans.push(await this.planQuery(query.query, query.into, query.from))

    const targets = new Map<string, TablePlan>()
    for (const plan of plans) {
      const earlier = targets.get(plan.target.key)
      if (earlier) {
        throw new TablehaulError(
          'CONFIG_INVALID',
          `${plan.target.display} would be written twice: from ${earlier.sourceLabel} and from ${plan.sourceLabel}`,
          { hint: 'give one of them a different into: table, or exclude one' },
        )
      }
      targets.set(plan.target.key, plan)
    }
    warnings.push(...this.goneFromSource(patterns, excludes, targets))
    const checked = this.checkReferencingTables(plans)
    for (const plan of checked) {
      const warning = unsuspendableByNonOwner(plan)
      if (warning) warnings.push(warning)
      if (plan.referencedFromOutside) warnings.push(referencedFromOutsideWarning(plan))
      const keyless = keylessFirstSync(plan)
      if (keyless) warnings.push(keyless)
      const keyMissing = keyMissingOnTarget(plan)
      if (keyMissing) warnings.push(keyMissing)
    }
    if (this.options.config.schema !== 'none') {
      for (const change of enumLabelChanges(source, this.options.target, copiedTables(checked))) {
        warnings.push(
          change.statements
            ? `enum ${change.type.ref.display} on the target lacks the labels ${labelList(change.labels)} the source added: a run adds them there (ALTER TYPE … ADD VALUE), at the source's place, before copying the tables that use it`
            : enumLeftAloneNote(change),
        )
      }
    }
    checked.sort(
      (a, b) => b.estimatedBytes - a.estimatedBytes || a.target.display.localeCompare(b.target.display),
    )
    const sequences = source.sequences.filter(
      (sequence) =>
        sequence.ownerTableOid === null &&
        patterns.some((pattern) => pattern.matches(sequence.ref)) &&
        !excludes.some((pattern) => pattern.matches(sequence.ref)),
    )
    return { tables: checked, sequences, emptyPartitioned, warnings }
  }

  /**
   * The partitioned tables under the selected ones (themselves included) with no leaf partition below
   * them, missing on the target: a leaf partition brings its partitioned parents along, these have none.
   */
  private emptyPartitioned(selections: readonly Selection[], excludes: readonly TablePattern[]): TableInfo[] {
    const { source, target } = this.options
    const found = new Map<number, TableInfo>()
    const visit = (table: TableInfo) => {
      if (source.leafPartitions(table).length === 0) found.set(table.oid, table)
      for (const child of source.children(table)) if (child.isPartition && child.kind === 'p') visit(child)
    }
    for (const selection of selections) {
      if (selection.table.kind === 'p' && !selection.into) visit(selection.table)
    }
    return [...found.values()].filter(
      (table) => !target.table(table.ref) && !excludes.some((pattern) => pattern.matches(table.ref)),
    )
  }

  /**
   * Whether the exact name of `pattern` is a table the target still has and an earlier run loaded from this
   * same source database: the source then dropped, renamed or moved it since, rather than the name being a
   * typo.
   */
  private loadedBeforeStill(pattern: TablePattern): boolean {
    if (!pattern.isExact) return false
    const ref = pattern.ref
    return (
      !!this.options.target.table(ref) && (this.options.loadedBefore ?? []).some((r) => r.key === ref.key)
    )
  }

  /**
   * A pattern selects what the source has now: a table it dropped, renamed or moved to another schema since
   * an earlier run loaded it is copied by no one, and its target table keeps the rows of its last copy.
   * Says so, per target table an earlier run loaded from this source database that a pattern's name still
   * selects, that the source and this run lack and the target still has. Nothing on the target is changed:
   * whether the rows are still wanted there is the operator's call.
   */
  private goneFromSource(
    patterns: readonly TablePattern[],
    excludes: readonly TablePattern[],
    targets: ReadonlyMap<string, TablePlan>,
  ): string[] {
    const { source, target, views = [] } = this.options
    const warnings: string[] = []
    for (const ref of this.options.loadedBefore ?? []) {
      if (targets.has(ref.key) || !target.table(ref)) continue
      if (source.table(ref) || views.some((view) => view.key === ref.key)) continue
      const pattern = patterns.find((p) => p.matches(ref))
      if (!pattern || excludes.some((p) => p.matches(ref))) continue
      warnings.push(
        `${ref.display} on the target was loaded from this source by an earlier run, but the source no longer has it (dropped, renamed or moved to another schema): "${pattern.text}" selects no table of that name, no run copies it, and its rows on the target are those of its last copy; if the source dropped it, drop it on the target (DROP TABLE ${ref.sql}); if it was renamed or moved, name the new table in tables: with into: ${ref.display}`,
      )
    }
    return warnings
  }

  /**
   * A partitioned table is copied leaf by leaf, the source's leaves into the target's of the same names. A
   * leaf the target's partitioned table has and the source's has not (detached or dropped there since the
   * last run) is copied by no one: its rows stay, and the target's partitioned table still shows them
   * although the source's no longer does. Says so, per such leaf, with what to do.
   */
  private partitionsOnlyOnTarget(selections: readonly Selection[]): string[] {
    const { source, target } = this.options
    const warnings = new Set<string>()
    for (const selection of selections) {
      if (selection.table.kind !== 'p' || selection.into) continue
      const targetParent = target.table(selection.table.ref)
      if (targetParent?.kind !== 'p') continue
      const sourceLeaves = new Set(source.leafPartitions(selection.table).map((leaf) => leaf.ref.key))
      for (const leaf of target.leafPartitions(targetParent)) {
        if (sourceLeaves.has(leaf.ref.key)) continue
        const parent = target.tables.find((table) => table.oid === leaf.parentOid)?.ref ?? targetParent.ref
        warnings.add(
          `${leaf.ref.display} is a partition of ${parent.display} on the target but not on the source (detached or dropped there?): no run copies it, and ${targetParent.ref.display} on the target still shows its rows; detach it there (ALTER TABLE ${parent.sql} DETACH PARTITION ${leaf.ref.sql}) or drop it`,
        )
      }
      // The other way: a table the target has on its own that the source has since attached (loaded apart,
      // then ATTACH PARTITION). The run copies its rows into it, and the target's partitioned table does
      // not show them: creating a partition is the schema step's, attaching an existing table is not.
      for (const leaf of source.leafPartitions(selection.table)) {
        const onTarget = target.table(leaf.ref)
        if (!onTarget || onTarget.isPartition || onTarget.kind === 'p' || !leaf.partitionBound) continue
        const parent = source.tables.find((table) => table.oid === leaf.parentOid)?.ref ?? targetParent.ref
        if (!target.table(parent)) continue
        warnings.add(
          `${leaf.ref.display} is a partition of ${parent.display} on the source but a table of its own on the target (attached on the source since it was first copied?): the run copies its rows, and ${targetParent.ref.display} on the target does not show its rows; attach it there (ALTER TABLE ${parent.sql} ATTACH PARTITION ${leaf.ref.sql} ${leaf.partitionBound})`,
        )
      }
    }
    return [...warnings]
  }

  /**
   * TRUNCATE (and DROP) refuse a table that another table's foreign key references, unless that table is
   * emptied too. tablehaul lifts such keys for the copy and puts them back after, which is only safe when
   * the referencing table is copied in the same run; otherwise the referenced table fails untouched. A
   * sync empties nothing: its DELETE and UPDATE are checked against such a key row by row, so it goes on,
   * and only its reload is barred.
   */
  private checkReferencingTables(plans: TablePlan[]): TablePlan[] {
    const { target } = this.options
    const written = new Set(plans.filter((p) => !p.problem).map((p) => p.target.key))
    // A partitioned table's rows are its partitions': its key is lifted and put back with them (lift), so it
    // counts as copied when every one of its leaf partitions is.
    for (const table of target.tables) {
      if (table.kind !== 'p') continue
      const leaves = target.leafPartitions(table)
      if (leaves.length > 0 && leaves.every((leaf) => written.has(leaf.ref.key))) written.add(table.ref.key)
    }
    // The tables selected but refused on their own (a column changed, say): selected, yet not copied.
    const refused = new Set(plans.filter((p) => p.problem).map((p) => p.target.key))
    return plans.map((plan) => {
      if (plan.problem || plan.targetState !== 'exists' || plan.mode === 'append' || !plan.targetTable)
        return plan
      const keys = target.tables.flatMap((table) =>
        table.constraints
          .filter(
            (c) =>
              c.type === 'f' && c.referencedTableOid === plan.targetTable!.oid && !written.has(table.ref.key),
          )
          .map((c) => ({ key: `${c.name} of ${table.ref.display}`, refused: refused.has(table.ref.key) })),
      )
      if (keys.length === 0) return plan
      const blockers = keys.map((k) => k.key)
      if (plan.mode === 'sync' && plan.syncKey) return { ...plan, referencedFromOutside: blockers }
      const failing = keys.filter((k) => k.refused).map((k) => k.key)
      const outside = keys.filter((k) => !k.refused).map((k) => k.key)
      const why = [
        ...(outside.length > 0 ? [`${outside.join(', ')}, which this run does not copy`] : []),
        ...(failing.length > 0
          ? [`${failing.join(', ')}, which this run selects but cannot copy (see that table's error)`]
          : []),
      ].join('; and by foreign key ')
      return {
        ...plan,
        problem: new TablehaulError(
          'TABLE_INCOMPATIBLE',
          `target table ${plan.target.display} is referenced by foreign key ${why}`,
          {
            hint:
              outside.length > 0
                ? 'add the referencing table to the run (tables:, or --table) so both are replaced together, or use mode: append'
                : 'fix the referencing table as its error says: both are then replaced together',
            table: plan.target.display,
          },
        ),
      }
    })
  }

  /**
   * Exact names win over patterns; a partitioned table stands for its leaf partitions (its rows live
   * there); exclusions apply last.
   */
  private resolveSelections(selections: Selection[], excludes: TablePattern[]): Map<string, Selection> {
    const { source } = this.options
    const chosen = new Map<string, Selection>()
    const consider = (selection: Selection) => {
      const key = selection.table.ref.key
      const earlier = chosen.get(key)
      if (
        earlier &&
        earlier.exact &&
        selection.exact &&
        (earlier.where !== selection.where ||
          earlier.mode !== selection.mode ||
          !sameRef(earlier.into, selection.into))
      ) {
        throw new TablehaulError(
          'CONFIG_INVALID',
          `${selection.from}: ${selection.table.ref.display} is already listed at ${earlier.from}`,
          {
            hint: 'list each table once',
          },
        )
      }
      if (!earlier || (selection.exact && !earlier.exact)) chosen.set(key, selection)
    }
    for (const selection of selections) {
      if (selection.table.kind === 'p') {
        for (const leaf of source.leafPartitions(selection.table)) consider({ ...selection, table: leaf })
      } else consider(selection)
    }
    for (const [key, selection] of chosen) {
      if (excludes.some((pattern) => pattern.matches(selection.table.ref))) chosen.delete(key)
    }
    return chosen
  }

  private planTable(selection: Selection): TablePlan {
    const { config, target } = this.options
    const table = selection.table
    const targetRef = selection.into ?? table.ref
    const columns = table.columns
      .filter((column) => !column.generated)
      .map(({ name, type }) => ({ name, type }))
    const asked = selection.mode ?? config.mode
    const { column: changedColumn, problem: changedProblem } = this.changedColumnOf(selection, asked)
    const base = {
      source: { kind: 'table' as const, table, where: selection.where },
      sourceLabel: table.ref.display,
      target: targetRef,
      mode: asked,
      columns,
      estimatedBytes: table.bytes,
      estimatedRows: table.estimatedRows,
    }
    // Binary COPY formats only ever gain encodings (numeric ±Infinity in 14, say): an older target may not
    // read what a newer source writes, while text stays readable.
    const major = (version: number) => Math.floor(version / 10000)
    // PostgreSQL 17 made an interval whose months, days and microseconds are all at their maximum mean
    // infinity: such a value from an older server would arrive as infinity in binary, while in text the
    // older server refuses to write it and the table fails instead of changing a value.
    const intervalChangesMeaning =
      major(this.options.source.serverVersion) < 17 &&
      major(target.serverVersion) >= 17 &&
      table.columns.some((column) => !column.generated && column.carriesInterval)
    const sourceBinarySafe =
      major(target.serverVersion) >= major(this.options.source.serverVersion) &&
      !intervalChangesMeaning &&
      table.columns.every((column) => column.generated || column.binarySafe)
    const existing = target.table(targetRef)
    let problem = lockedProblem('source', table, targetRef) ?? lockedProblem('target', existing, targetRef)
    problem ??= changedProblem
    if (!problem && !table.canSelect) {
      problem = new TablehaulError(
        'PRIVILEGE_MISSING',
        `no SELECT privilege on source table ${table.ref.display}`,
        {
          hint: `ask for GRANT SELECT ON ${table.ref.sql} TO <the source user>, or exclude the table`,
          table: targetRef.display,
        },
      )
    }
    if (!existing) {
      problem ??= this.missingTargetProblem(targetRef)
      return {
        ...base,
        changedColumn,
        targetState: 'missing',
        targetTable: undefined,
        format: this.format(sourceBinarySafe),
        problem,
      }
    }
    const syncKey =
      asked === 'sync' ? syncKeyOf(table, existing, new Set(columns.map((c) => c.name))) : undefined
    const rules = asked === 'sync' ? firingRules(existing) : []
    const mode = asked === 'sync' && (!syncKey || rules.length > 0) ? 'replace' : asked
    problem ??= this.existingTargetProblem(
      existing,
      columns,
      mode,
      table.columns.filter((column) => column.generated).map((column) => column.name),
    )
    const identical = checkCompatibility(columns, existing.columns).identicalTypes
    return {
      ...base,
      mode,
      syncKey,
      changedColumn: mode === 'sync' ? changedColumn : undefined,
      modeNote:
        mode === asked
          ? undefined
          : !syncKey
            ? missingSyncKeyNote(table, new Set(columns.map((c) => c.name)))
            : `sync → replace: the target table has ${rules.length > 1 ? 'rules' : 'a rule'} (${rules.join(', ')}) that its INSERT, UPDATE and DELETE would fire`,
      targetState: 'exists',
      targetTable: existing,
      format: this.format(sourceBinarySafe && (identical || mode === 'recreate')),
      problem,
    }
  }

  /**
   * The entry's `changed:` column, checked: the table syncs (or the whole config is wrong), and the column
   * is one of the source table's. A column the source no longer has (renamed or dropped since the config
   * was written, between two nightly runs) fails that table only, untouched: the other tables of the run
   * have nothing to do with it.
   */
  private changedColumnOf(
    selection: Selection,
    mode: LoadMode,
  ): { column?: string | undefined; problem?: TablehaulError | undefined } {
    const column = selection.changed
    if (column === undefined) return {}
    if (mode !== 'sync') {
      throw new TablehaulError(
        'CONFIG_INVALID',
        `${selection.from}.changed: only mode sync uses a changed: column, but ${selection.table.ref.display} is loaded with mode ${mode}`,
        { hint: `add mode: sync to the entry (or to the whole run), or remove changed:` },
      )
    }
    if (!selection.table.columns.some((candidate) => candidate.name === column)) {
      return {
        problem: new TablehaulError(
          'CONFIG_INVALID',
          `${selection.from}.changed: ${selection.table.ref.display} has no column "${column}"`,
          {
            hint: `name the column that every writer sets when it inserts or updates a row (such as updated_at), or remove changed: (renamed or dropped on the source?); the table's columns: ${selection.table.columns.map((c) => c.name).join(', ')}`,
            table: (selection.into ?? selection.table.ref).display,
          },
        ),
      }
    }
    return { column }
  }

  private async planQuery(query: string, into: TableRef, from: string): Promise<TablePlan> {
    const { config, target } = this.options
    let columns: SourceColumn[]
    try {
      columns = await this.options.probeQuery(query)
    } catch (error) {
      throw new TablehaulError('CONFIG_INVALID', `${from}.query fails on the source: ${messageOf(error)}`, {
        cause: error,
        hint: 'run the query in psql against the source to fix it',
      })
    }
    const existing = target.table(into)
    // A query's rows have no key to match them by: sync loads them as replace does.
    const mode = config.mode === 'sync' ? 'replace' : config.mode
    const base = {
      source: { kind: 'query' as const, query, columns },
      sourceLabel: 'query',
      target: into,
      mode,
      modeNote: mode !== config.mode ? 'sync → replace: no key (a query)' : undefined,
      columns,
      estimatedBytes: 0,
      estimatedRows: null,
      format: 'text' as const,
    }
    if (!existing)
      return {
        ...base,
        targetState: 'missing',
        targetTable: undefined,
        problem: this.missingTargetProblem(into),
      }
    return {
      ...base,
      targetState: 'exists',
      targetTable: existing,
      problem: lockedProblem('target', existing, into) ?? this.existingTargetProblem(existing, columns, mode),
    }
  }

  private missingTargetProblem(ref: TableRef): TablehaulError | undefined {
    if (this.options.config.schema !== 'none') return undefined
    return new TablehaulError(
      'TABLE_INCOMPATIBLE',
      `target table ${ref.display} does not exist, and schema: none forbids creating it`,
      {
        hint: 'create the table on the target, or set schema: create-missing',
        table: ref.display,
      },
    )
  }

  private existingTargetProblem(
    existing: TableInfo,
    columns: readonly SourceColumn[],
    mode: LoadMode,
    generatedOnSource: readonly string[] = [],
  ): TablehaulError | undefined {
    const ref = existing.ref
    if (existing.kind === 'p') {
      return new TablehaulError(
        'TABLE_INCOMPATIBLE',
        `target table ${ref.display} is partitioned but the source table is not`,
        {
          hint: 'copy into a table that is not partitioned (into:), or use mode: recreate',
          table: ref.display,
        },
      )
    }
    if (mode === 'recreate') {
      if (!existing.isOwner) {
        return new TablehaulError(
          'PRIVILEGE_MISSING',
          `mode: recreate must drop ${ref.display}, which the target user does not own`,
          {
            hint: 'connect to the target as the table owner, or use mode: replace',
            table: ref.display,
          },
        )
      }
      return undefined
    }
    const compatibility = checkCompatibility(columns, existing.columns, generatedOnSource)
    if (compatibility.problems.length > 0) {
      return new TablehaulError(
        'TABLE_INCOMPATIBLE',
        `target table ${ref.display} does not match the source: ${compatibility.problems.join('; ')}`,
        {
          // A nightly job keeps its mode: the table is altered (or rebuilt) once, and synced as before.
          hint:
            compatibility.fixes.length > 0
              ? `alter the target table to match, and the next run fills it in (its rows stay): ALTER TABLE ${ref.sql} ${compatibility.fixes.join(', ')}; or rebuild it from the source definition once with mode: recreate`
              : 'use mode: recreate to rebuild it from the source definition, or fix the target table',
          table: ref.display,
        },
      )
    }
    if (!existing.canInsert) {
      return new TablehaulError('PRIVILEGE_MISSING', `no INSERT privilege on target table ${ref.display}`, {
        hint: `GRANT INSERT ON ${ref.sql} TO <the target user>`,
        table: ref.display,
      })
    }
    // PostgreSQL refuses COPY FROM into a table whose row level security applies to the user (copy.c:
    // "COPY FROM not supported with row-level security"); only the owner, who tablehaul lets past a FORCE
    // for its transaction, and users exempt from RLS can load it.
    if (existing.rowSecurity && !existing.isOwner && !existing.userBypassesRls) {
      return new TablehaulError(
        'PRIVILEGE_MISSING',
        `target table ${ref.display} has row level security, which applies to the target user, and PostgreSQL refuses COPY into such a table`,
        {
          hint: "connect to the target as the table's owner (or a member of the owning role), or have a superuser run ALTER ROLE <the target user> BYPASSRLS",
          table: ref.display,
        },
      )
    }
    if (mode === 'replace' && !existing.canTruncate) {
      return new TablehaulError(
        'PRIVILEGE_MISSING',
        `no TRUNCATE privilege on target table ${ref.display}, which mode: replace needs`,
        {
          hint: `GRANT TRUNCATE ON ${ref.sql} TO <the target user>, or use mode: append`,
          table: ref.display,
        },
      )
    }
    if (mode === 'sync') return syncPrivilegeProblem(existing)
    return undefined
  }

  private format(binaryPossible: boolean): 'text' | 'binary' {
    const wanted = this.options.config.copy.format
    if (wanted === 'text') return 'text'
    return binaryPossible ? 'binary' : 'text'
  }
}

function parseTarget(text: string, where: string): TableRef {
  const pattern = TablePattern.parse(text, where)
  if (!pattern.isExact)
    throw new TablehaulError('CONFIG_INVALID', `${where}: "${text}" must name one table, without * or ?`)
  return pattern.ref
}

function sameRef(a: TableRef | undefined, b: TableRef | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b))
}

function describeNotFound(
  pattern: TablePattern,
  from: string,
  source: Catalog,
  loadedBefore: boolean,
): string {
  const what = pattern.isExact ? `table ${pattern.ref.display}` : `"${pattern.text}"`
  const folded = source.tables.filter(
    (table) =>
      table.ref.schema.toLowerCase() === pattern.schema.toLowerCase() &&
      table.ref.name.toLowerCase() === pattern.name.toLowerCase(),
  )
  // A table moved to another schema (ALTER TABLE … SET SCHEMA) keeps its name.
  const moved = pattern.isExact
    ? source.tables.find((table) => table.ref.name.toLowerCase() === pattern.ref.name.toLowerCase())
    : undefined
  const near =
    folded[0]?.ref.display ??
    moved?.ref.display ??
    (pattern.isExact
      ? closest(
          pattern.ref.display,
          source.tables.map((table) => table.ref.display),
        )
      : undefined)
  const suggestion = near ? ` (did you mean ${near}?)` : ''
  if (loadedBefore)
    return `${from}: ${what} does not exist on the source${suggestion}; an earlier run loaded it from this source, so the source dropped, renamed or moved it since: its target table keeps the rows of that copy`
  return `${from}: ${what} ${pattern.isExact ? 'does not exist on the source' : 'matches no table on the source'}${suggestion}`
}

/**
 * The rules of a target table that fire on INSERT, UPDATE or DELETE (a table can have no others): a sync
 * writes with those statements, and a rule can rewrite or swallow them (DO INSTEAD NOTHING), while COPY and
 * TRUNCATE fire none. Switching one off (ALTER TABLE … DISABLE RULE) takes an ACCESS EXCLUSIVE lock, which
 * a sync must not hold, so such a table is reloaded, as replace does. `R` rules fire only on a replica.
 */
function firingRules(table: TableInfo): string[] {
  return table.rules.filter((rule) => firesInOurSessions(rule.enabled)).map((rule) => rule.name)
}

/**
 * A replace or a sync keeps the target table's own triggers from firing on what it writes (INSERT and
 * TRUNCATE for a reload; INSERT, UPDATE and DELETE for a sync) by switching them off for its transaction,
 * which only the table's owner may do (ALTER TABLE … DISABLE TRIGGER). For another user they fire: a
 * BEFORE trigger can change or drop the rows (a sync then fails the table on its row counts). Says so,
 * naming the table, its triggers and what to do.
 */
function unsuspendableByNonOwner(plan: TablePlan): string | undefined {
  const table = plan.targetTable
  const mirrors = plan.mode === 'replace' || plan.mode === 'sync'
  if (plan.problem || !mirrors || plan.targetState !== 'exists' || !table || table.isOwner) return undefined
  const triggers = table.triggers
    .filter((t) => (plan.mode === 'sync' ? t.firesOnSync || t.firesOnLoad : t.firesOnLoad))
    .filter((t) => firesInOurSessions(t.enabled))
    .map((t) => t.name)
  if (triggers.length === 0) return undefined
  const many = triggers.length > 1
  const disable = triggers.map((name) => `ALTER TABLE ${plan.target.sql} DISABLE TRIGGER ${quoteIdent(name)}`)
  return `${plan.target.display}: the target user does not own it, so tablehaul cannot switch off its trigger${many ? 's' : ''} ${triggers.join(', ')}, which fire${many ? '' : 's'} on the rows it writes (a BEFORE trigger can change or drop them). Connect to the target as the table's owner (or grant the owning role to the target user), or have the owner run ${disable.join('; ')}`
}

/**
 * A table that mode sync creates on the target now, but that has no key on the source: this first load is
 * the same as a replace, and every later run replaces it too (its ACTION says so only once the table
 * exists). Said before the first night rather than after the second.
 */
function keylessFirstSync(plan: TablePlan): string | undefined {
  if (plan.problem || plan.mode !== 'sync' || plan.targetState !== 'missing' || plan.source.kind !== 'table')
    return undefined
  const source = plan.source.table
  if (syncKeyOf(source, source, new Set(plan.columns.map((column) => column.name)))) return undefined
  return `${plan.target.display}: no key on the source (a primary key, or a unique index on NOT NULL columns), so mode sync will replace it on every run; add one to sync it by its differences`
}

/**
 * A table asked to sync whose target table lacks the source's key is replaced on every run, which the table's
 * note says each time (`sync → replace: the target has no unique index on …`); this says how to end it. The
 * source's key moved to other columns since the target table was made, say, or it was made without it.
 */
function keyMissingOnTarget(plan: TablePlan): string | undefined {
  // A sync turned replace for want of a key (no syncKey; a rule keeps the key): targetKeyStatements tells
  // the source's missing one (undefined) from the target's.
  if (plan.problem || plan.syncKey || !plan.modeNote || plan.source.kind !== 'table' || !plan.targetTable)
    return undefined
  const copied = new Set(plan.columns.map((column) => column.name))
  const statements = targetKeyStatements(plan.source.table, plan.targetTable, copied)
  if (!statements) return undefined
  return `${plan.target.display} is replaced on every run instead of synced: the target table lacks the source's key as a unique index on NOT NULL columns (the source's key changed since the target table was made?); give it one there (${statements.join('; ')}) and the next run syncs it`
}

/**
 * mode sync writes a target table's differences with UPDATE and DELETE, from rows it gathers in temporary
 * tables (TEMP on the database): without those rights the table failed mid-sync, on PostgreSQL's bare
 * "permission denied", so the plan names each missing one and the grants that give it.
 */
function syncPrivilegeProblem(existing: TableInfo): TablehaulError | undefined {
  const ref = existing.ref
  const onTable = [existing.canUpdate ? [] : ['UPDATE'], existing.canDelete ? [] : ['DELETE']].flat()
  const missing = [
    ...(onTable.length > 0 ? [`no ${onTable.join(' or ')} privilege on target table ${ref.display}`] : []),
    ...(existing.canCreateTemp ? [] : ['no TEMP privilege on the target database']),
  ]
  if (missing.length === 0) return undefined
  const grants = [
    ...(onTable.length > 0 ? [`GRANT ${onTable.join(', ')} ON ${ref.sql} TO <the target user>`] : []),
    ...(existing.canCreateTemp ? [] : ['GRANT TEMP ON DATABASE <the target database> TO <the target user>']),
  ]
  return new TablehaulError(
    'PRIVILEGE_MISSING',
    `${missing.join(' and ')}, which mode: sync needs (it writes the differences with UPDATE and DELETE from temporary tables)`,
    { hint: `${grants.join('; ')}; or use mode: replace for this table`, table: ref.display },
  )
}

/**
 * mode sync: whether a table whose differences would cost more than a reload may be reloaded instead
 * (TRUNCATE, then COPY FREEZE), or an empty one be loaded after a TRUNCATE.
 */
export function syncMayReload(plan: TablePlan): boolean {
  return plan.targetTable?.canTruncate === true && plan.referencedFromOutside === undefined
}

function referencedFromOutsideWarning(plan: TablePlan): string {
  const keys = plan.referencedFromOutside!
  const many = keys.length > 1
  return `${plan.target.display}: foreign key${many ? 's' : ''} ${keys.join(', ')} reference${many ? '' : 's'} it from ${many ? 'tables' : 'a table'} this run does not copy, so it is synced by its differences only, never reloaded (TRUNCATE refuses it). When the source deletes a row that ${many ? 'they' : 'it'} still reference${many ? '' : 's'}, ON DELETE CASCADE or SET NULL acts on the local rows; any other key fails the table, its rows kept`
}

/**
 * A table another session locks ACCESS EXCLUSIVE: reading it (or TRUNCATE on the target) would wait for that
 * session, so it fails on its own, named, while the other tables go ahead.
 */
function lockedProblem(
  side: 'source' | 'target',
  table: TableInfo | undefined,
  reported: TableRef,
): TablehaulError | undefined {
  const lock = table?.lockedBy
  if (!table || !lock) return undefined
  const holder = lock.pid === null ? 'a prepared transaction' : `another session (server pid ${lock.pid})`
  const how = lock.granted
    ? 'holds an ACCESS EXCLUSIVE lock on it'
    : 'waits for an ACCESS EXCLUSIVE lock on it'
  return new TablehaulError(
    'TABLE_LOCKED',
    `${side} table ${table.ref.display} is locked: ${holder} ${how}`,
    {
      hint:
        lock.pid === null
          ? `end it on the ${side} (COMMIT PREPARED or ROLLBACK PREPARED; see pg_prepared_xacts), then run again`
          : `run again once that transaction ends; to see it, on the ${side}: SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE pid = ${lock.pid} (pg_locks lists every lock on the table)`,
      table: reported.display,
    },
  )
}

/** The planned tables a run copies from a source table, as enumLabelChanges takes them. */
export function copiedTables(plans: readonly TablePlan[]): { table: TableInfo; into: string }[] {
  return plans.flatMap((plan) =>
    !plan.problem && plan.source.kind === 'table'
      ? [{ table: plan.source.table, into: plan.target.key }]
      : [],
  )
}
