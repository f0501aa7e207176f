import type { ColumnInfo } from '../../catalog/catalog.js'
import { displayIdentifier, quoteIdent } from '../../db/table-ref.js'

/** A column as the source sends it: a table column, or a column of a query's result. */
export interface SourceColumn {
  readonly name: string
  readonly type: string
}

export interface Compatibility {
  /** Problems that make the copy impossible, one sentence each. */
  readonly problems: string[]
  /** Every copied column has exactly the same type on both sides (binary COPY needs that). */
  readonly identicalTypes: boolean
  /**
   * ALTER TABLE actions that make the target table take the source's columns, where the problems are only
   * columns the target lacks or holds in a type that the source's type can hold every value of (a widened
   * column): the table, its other columns and their rows stay.
   */
  readonly fixes: string[]
}

/**
 * Whether an existing target table can take the source's columns through COPY: every source column must
 * exist on the target with a type whose input accepts the source type's text form unchanged in meaning,
 * and target columns the source does not fill must be nullable or have a default.
 */
export function checkCompatibility(
  source: readonly SourceColumn[],
  target: readonly ColumnInfo[],
  generatedOnSource: readonly string[] = [],
): Compatibility {
  const problems: string[] = []
  const fixes: string[] = []
  let onlyFixable = true
  // COPY never carries a generated column's values: a plain target column would be left NULL.
  for (const name of generatedOnSource) {
    const match = target.find((column) => column.name === name)
    if (match && !match.generated) {
      onlyFixable = false
      problems.push(
        `column ${displayIdentifier(name)} is generated on the source but not on the target, where its values would be NULL`,
      )
    }
  }
  let identicalTypes = true
  const targetByName = new Map(target.map((column) => [column.name, column]))
  for (const column of source) {
    const match = targetByName.get(column.name)
    if (!match) {
      problems.push(
        `the target has no column ${displayIdentifier(column.name)} (${column.type} on the source)`,
      )
      fixes.push(`ADD COLUMN ${quoteIdent(column.name)} ${column.type}`)
      identicalTypes = false
      continue
    }
    if (match.generated) {
      onlyFixable = false
      problems.push(
        `target column ${displayIdentifier(column.name)} is a generated column and cannot receive values`,
      )
      continue
    }
    if (match.type !== column.type) {
      identicalTypes = false
      if (!acceptsTextOf(match.type, column.type)) {
        problems.push(
          `column ${displayIdentifier(column.name)} is ${match.type} on the target but ${column.type} on the source`,
        )
        // Widened on the source (int to bigint, varchar(10) to text): the target's rows fit the new type.
        if (acceptsTextOf(column.type, match.type))
          fixes.push(`ALTER COLUMN ${quoteIdent(column.name)} TYPE ${column.type}`)
        else onlyFixable = false
      }
    }
  }
  const sourceNames = new Set(source.map((column) => column.name))
  for (const column of target) {
    if (sourceNames.has(column.name) || column.generated) continue
    if (column.notNull && column.defaultExpr === null && !column.identity) {
      onlyFixable = false
      problems.push(
        `target column ${displayIdentifier(column.name)} is NOT NULL without a default, and the source has no such column`,
      )
    }
  }
  return { problems, identicalTypes, fixes: onlyFixable ? renamed(source, target, fixes) : [] }
}

/**
 * One column the target lacks and one the source lacks, of the same type, are most likely one column
 * renamed on the source: RENAME COLUMN keeps the target's views, indexes and grants on it, which a column
 * added beside the old one would not. A guess the sync cannot get wrong: the column's name is in the
 * table's signature, so the next sync compares every row and writes those that differ.
 */
function renamed(
  source: readonly SourceColumn[],
  target: readonly ColumnInfo[],
  fixes: readonly string[],
): string[] {
  const targetNames = new Set(target.map((column) => column.name))
  const sourceNames = new Set(source.map((column) => column.name))
  const missing = source.filter((column) => !targetNames.has(column.name))
  const extra = target.filter((column) => !sourceNames.has(column.name) && !column.generated)
  if (missing.length !== 1 || extra.length !== 1 || missing[0]!.type !== extra[0]!.type) return [...fixes]
  const add = `ADD COLUMN ${quoteIdent(missing[0]!.name)} ${missing[0]!.type}`
  const rename = `RENAME COLUMN ${quoteIdent(extra[0]!.name)} TO ${quoteIdent(missing[0]!.name)}`
  // ALTER TABLE takes RENAME alone, not in a list of other actions.
  return fixes.length === 1 && fixes[0] === add ? [rename] : [...fixes]
}

const INTEGER_RANK: Record<string, number> = { smallint: 1, integer: 2, bigint: 3 }
const TEXT_TYPES = new Set(['text', 'character varying', 'character', 'name', 'citext'])

/** Whether a column of `targetType` reads every value of `sourceType` written as text, with the same meaning. */
export function acceptsTextOf(targetType: string, sourceType: string): boolean {
  const target = parseType(targetType)
  const source = parseType(sourceType)
  if (target.array !== source.array) return target.base === 'text' && !target.array
  if (target.base === source.base) {
    if (target.base === 'numeric') return numericFits(target.modifiers, source.modifiers)
    if (target.base === 'character varying' || target.base === 'character' || target.base === 'bit varying') {
      return (
        target.modifiers.length === 0 ||
        (source.modifiers.length > 0 && target.modifiers[0]! >= source.modifiers[0]!)
      )
    }
    // timestamp(p), time(p), interval(p): a lower precision would round the source's values
    return (
      target.modifiers.length === 0 ||
      (source.modifiers.length > 0 && target.modifiers[0]! >= source.modifiers[0]!)
    )
  }
  if (target.base === 'text' && !target.array) return true
  if (target.base in INTEGER_RANK && source.base in INTEGER_RANK)
    return INTEGER_RANK[target.base]! >= INTEGER_RANK[source.base]!
  if (target.base === 'numeric' && target.modifiers.length === 0 && source.base in INTEGER_RANK) return true
  if (
    target.base === 'double precision' &&
    (source.base === 'real' || source.base === 'smallint' || source.base === 'integer')
  )
    return true
  if (
    (target.base === 'character varying' || target.base === 'text') &&
    target.modifiers.length === 0 &&
    TEXT_TYPES.has(source.base)
  )
    return true
  if (
    (target.base === 'jsonb' && source.base === 'json') ||
    (target.base === 'json' && source.base === 'jsonb')
  )
    return true
  if (
    target.base === 'timestamp with time zone' &&
    (source.base === 'timestamp without time zone' || source.base === 'date')
  )
    return true
  if (target.base === 'timestamp without time zone' && source.base === 'date') return true
  return false
}

interface ParsedType {
  readonly base: string
  readonly modifiers: number[]
  readonly array: boolean
}

function parseType(type: string): ParsedType {
  let text = type.trim()
  const array = text.endsWith('[]')
  text = text.replace(/(\[\])+$/, '')
  const modifiers: number[] = []
  const base = text
    .replace(/\(([^)]*)\)/, (_m, inner: string) => {
      for (const part of inner.split(',')) modifiers.push(Number(part.trim()))
      return ''
    })
    .replace(/\s+/g, ' ')
    .trim()
  return { base, modifiers, array }
}

function numericFits(target: number[], source: number[]): boolean {
  if (target.length === 0) return true
  if (source.length === 0) return false
  const [targetPrecision = 0, targetScale = 0] = target
  const [sourcePrecision = 0, sourceScale = 0] = source
  return targetScale >= sourceScale && targetPrecision - targetScale >= sourcePrecision - sourceScale
}
