import type { Catalog, TableInfo, TypeInfo } from '../../catalog/catalog.js'
import { quoteLiteral } from '../../db/table-ref.js'

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
): { labels: string[]; statements: string[] } | undefined {
  const shared = source.filter((label) => target.includes(label))
  if (shared.length !== target.length || shared.some((label, i) => label !== target[i])) return undefined
  const labels: string[] = []
  const statements: string[] = []
  source.forEach((label, i) => {
    if (target.includes(label)) return
    const place =
      i > 0
        ? ` AFTER ${quoteLiteral(source[i - 1]!)}`
        : target.length > 0
          ? ` BEFORE ${quoteLiteral(target[0]!)}`
          : ''
    labels.push(label)
    statements.push(`ALTER TYPE ${typeSql} ADD VALUE IF NOT EXISTS ${quoteLiteral(label)}${place}`)
  })
  return { labels, statements }
}
