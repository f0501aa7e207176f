import type { Catalog, TableInfo, TypeInfo } from '../../catalog/catalog.js'
import { quoteLiteral } from '../../db/table-ref.js'

/** An enum type of the copied tables whose target type lacks labels the source's has. */
export interface EnumLabelChange {
  readonly type: TypeInfo
  /** The target keys of the tables that use it. */
  readonly tables: readonly string[]
  /** The source's labels the target's type lacks, in the source's order. */
  readonly labels: readonly string[]
  /** What adds them at the source's places; undefined when they cannot be (see addedLabelStatements). */
  readonly statements: readonly string[] | undefined
  /** The target type's labels, in its order. */
  readonly targetLabels: readonly string[]
}

/**
 * The enum types the source `tables` use (each with the key of the target table it is copied into) that the
 * target has (not an extension's) with fewer labels than the source's: what a run adds, or why it cannot.
 */
export function enumLabelChanges(
  source: Catalog,
  target: Catalog,
  tables: readonly { readonly table: TableInfo; readonly into: string }[],
): EnumLabelChange[] {
  const users = new Map<number, { type: TypeInfo; tables: string[] }>()
  for (const { table, into } of tables) {
    for (const type of enumTypesOf(source, table)) {
      const entry = users.get(type.oid) ?? { type, tables: [] }
      entry.tables.push(into)
      users.set(type.oid, entry)
    }
  }
  const changes: EnumLabelChange[] = []
  for (const { type, tables } of users.values()) {
    const local = target.typeNamed(type.ref)
    if (type.extension || local?.kind !== 'e') continue
    const known = new Set(local.labels)
    const labels = type.labels.filter((label) => !known.has(label))
    if (labels.length === 0) continue
    const statements = addedLabelStatements(local.ref.sql, type.labels, local.labels)
    changes.push({ type, tables, labels, statements, targetLabels: local.labels })
  }
  return changes
}

/** Labels as a message lists them. */
export const labelList = (labels: readonly string[]): string => labels.map(quoteLiteral).join(', ')

/** What a run cannot add, as a note or plan warning. */
export function enumLeftAloneNote(change: EnumLabelChange): string {
  return `enum ${change.type.ref.display} on the target lacks the source's labels ${labelList(change.labels)} but has others or orders them otherwise (${labelList(change.targetLabels)}), so it is left as it is: a row holding one of those labels fails the table`
}

/**
 * The enum types a table's rows hold (through arrays, domains, ranges and composite types) or its defaults
 * name, by pg_depend: COPY into the table reads their labels.
 */
export function enumTypesOf(catalog: Catalog, table: TableInfo): TypeInfo[] {
  const enums = new Map<number, TypeInfo>()
  const seen = new Set<number>()
  const visit = (kind: 'table' | 'type', oid: number) => {
    for (const use of catalog.uses(kind, oid)) {
      if (use.kind !== 'type' || use.phase !== 'create' || seen.has(use.oid)) continue
      seen.add(use.oid)
      const type = catalog.typeByOid(use.oid)
      if (!type) continue
      if (type.kind === 'e') enums.set(type.oid, type)
      else visit('type', type.oid)
    }
  }
  visit('table', table.oid)
  return [...enums.values()]
}

/**
 * The statements that give the target's enum the labels the source's has and it lacks, each at the
 * source's place (sort order decides comparisons, ORDER BY and enum ranges): `ADD VALUE … AFTER` the
 * label before it on the source, or `BEFORE` the first. Undefined when that cannot make the two equal: the
 * target has a label the source has not (its own, or one renamed on the source), or orders the shared
 * labels otherwise. PostgreSQL cannot drop, move or rename a label without knowing which was meant.
 */
export function addedLabelStatements(
  typeSql: string,
  source: readonly string[],
  target: readonly string[],
): string[] | undefined {
  // Sets: an enum may have thousands of labels.
  const known = new Set(target)
  const shared = source.filter((label) => known.has(label))
  if (shared.length !== target.length || shared.some((label, i) => label !== target[i])) return undefined
  const statements: string[] = []
  source.forEach((label, i) => {
    if (known.has(label)) return
    const place =
      i > 0
        ? ` AFTER ${quoteLiteral(source[i - 1]!)}`
        : target.length > 0
          ? ` BEFORE ${quoteLiteral(target[0]!)}`
          : ''
    statements.push(`ALTER TYPE ${typeSql} ADD VALUE IF NOT EXISTS ${quoteLiteral(label)}${place}`)
  })
  return statements
}
