import type { Catalog, ColumnInfo, ConstraintInfo, EnumTypeInfo, SequenceInfo, TableInfo } from './catalog.js'
import { quoteIdent, quoteLiteral, type TableRef } from './table-ref.js'

/**
 * CREATE statements for the target, written from the source catalog with the server's own helpers
 * (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef), so no pg_dump is needed.
 * They are meant to run with `search_path = ''`, which is how the catalog rendered every name.
 */
export class Ddl {
  constructor(private readonly catalog: Catalog) {}

  createSchema(schema: string): string {
    return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`
  }

  createEnum(type: EnumTypeInfo): string {
    return `CREATE TYPE ${type.ref.sql} AS ENUM (${type.labels.map(quoteLiteral).join(', ')})`
  }

  createSequence(sequence: SequenceInfo): string {
    return `CREATE ${sequence.persistence === 'u' ? 'UNLOGGED ' : ''}SEQUENCE IF NOT EXISTS ${sequence.ref.sql} ${sequenceOptions(sequence)}`
  }

  /** Columns, types, collations, defaults, NOT NULL, identity and generated columns; no indexes or constraints. */
  createTable(table: TableInfo, into: TableRef = table.ref): string {
    const identitySequences = new Map(
      this.catalog
        .ownedSequences(table)
        .filter((sequence) => sequence.ownerDependency === 'i')
        .map((sequence) => [sequence.ownerColumn, sequence]),
    )
    const columns = table.columns.map((column) =>
      columnDefinition(column, identitySequences.get(column.name)),
    )
    const unlogged = table.persistence === 'u' ? 'UNLOGGED ' : ''
    const partitioned = table.kind === 'p' && table.partitionKey ? ` PARTITION BY ${table.partitionKey}` : ''
    return `CREATE ${unlogged}TABLE ${into.sql} (${columns.length ? `\n  ${columns.join(',\n  ')}\n` : ''})${partitioned}`
  }

  /** A table made from a query's result columns. */
  createTableFromColumns(into: TableRef, columns: ReadonlyArray<{ name: string; type: string }>): string {
    return `CREATE TABLE ${into.sql} (${columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`
  }

  /**
   * Makes a table a partition of its parent, as pg_dump does: the partition is created as a table of its
   * own first (keeping its physical column order, which may differ from the parent's), then attached
   * while still empty, so attaching scans nothing.
   */
  attachPartition(table: TableInfo, parent: TableInfo): string {
    return `ALTER TABLE ONLY ${parent.ref.sql} ATTACH PARTITION ${table.ref.sql} ${table.partitionBound}`
  }

  /** Makes serial columns' sequences belong to their column again, as on the source. */
  sequenceOwnership(table: TableInfo, into: TableRef = table.ref): string[] {
    return this.catalog
      .ownedSequences(table)
      .filter((sequence) => sequence.ownerDependency === 'a' && sequence.ownerColumn)
      .map(
        (sequence) =>
          `ALTER SEQUENCE ${sequence.ref.sql} OWNED BY ${into.sql}.${quoteIdent(sequence.ownerColumn!)}`,
      )
  }

  /**
   * What is built after the data, so that none of it slows the load or rejects a row: primary keys and
   * unique constraints (as a unique index first, which allows several builds on one table at once),
   * exclusion and check constraints, other indexes. Foreign keys come later, once every table is in.
   */
  afterData(table: TableInfo, into: TableRef = table.ref): string[] {
    const statements: string[] = []
    for (const constraint of table.constraints) {
      if (!constraint.isLocal) continue
      if (
        (constraint.type === 'p' || constraint.type === 'u') &&
        table.kind === 'r' &&
        constraint.indexDefinition
      ) {
        const indexName = indexNameOf(constraint.indexDefinition)
        statements.push(retarget(constraint.indexDefinition, table.ref, into))
        statements.push(
          `ALTER TABLE ${into.sql} ADD CONSTRAINT ${quoteIdent(constraint.name)} ${constraint.type === 'p' ? 'PRIMARY KEY' : 'UNIQUE'} USING INDEX ${quoteIdent(indexName)}${deferrability(constraint)}`,
        )
      } else if (constraint.type === 'p' || constraint.type === 'u' || constraint.type === 'x') {
        statements.push(addConstraint(into, constraint))
      }
    }
    const checks = table.constraints.filter((c) => c.type === 'c' && c.isLocal)
    if (checks.length > 0) {
      // One ALTER TABLE validates all its new constraints in a single scan of the table.
      statements.push(
        `ALTER TABLE ${into.sql} ${checks.map((c) => `ADD CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`).join(', ')}`,
      )
    }
    for (const index of table.indexes) {
      if (index.isPartitionChild || !index.isValid) continue
      statements.push(retarget(index.definition, table.ref, into))
    }
    return statements
  }

  foreignKeys(table: TableInfo, into: TableRef = table.ref): string[] {
    return table.constraints.filter((c) => c.type === 'f' && c.isLocal).map((c) => addConstraint(into, c))
  }
}

function addConstraint(table: TableRef, constraint: ConstraintInfo): string {
  return `ALTER TABLE ${table.sql} ADD CONSTRAINT ${quoteIdent(constraint.name)} ${constraint.definition}`
}

function deferrability(constraint: ConstraintInfo): string {
  if (/\bINITIALLY DEFERRED\b/.test(constraint.definition)) return ' DEFERRABLE INITIALLY DEFERRED'
  if (/\bDEFERRABLE\b/.test(constraint.definition)) return ' DEFERRABLE'
  return ''
}

function columnDefinition(column: ColumnInfo, identitySequence: SequenceInfo | undefined): string {
  const parts = [quoteIdent(column.name), column.type]
  if (column.collation) parts.push(`COLLATE ${column.collation}`)
  if (column.generated && column.defaultExpr) {
    parts.push(
      `GENERATED ALWAYS AS (${column.defaultExpr}) ${column.generated === 'v' ? 'VIRTUAL' : 'STORED'}`,
    )
  } else if (column.identity) {
    const kind = column.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'
    const options = identitySequence
      ? ` (SEQUENCE NAME ${identitySequence.ref.sql} ${sequenceOptions(identitySequence)})`
      : ''
    parts.push(`GENERATED ${kind} AS IDENTITY${options}`)
  } else if (column.defaultExpr) {
    parts.push(`DEFAULT ${column.defaultExpr}`)
  }
  if (column.notNull) parts.push('NOT NULL')
  return parts.join(' ')
}

function sequenceOptions(sequence: SequenceInfo): string {
  return [
    `AS ${sequence.dataType}`,
    `INCREMENT BY ${sequence.increment}`,
    `MINVALUE ${sequence.minValue}`,
    `MAXVALUE ${sequence.maxValue}`,
    `START WITH ${sequence.startValue}`,
    `CACHE ${sequence.cache}`,
    sequence.cycle ? 'CYCLE' : 'NO CYCLE',
  ].join(' ')
}

/** The index name in `CREATE [UNIQUE] INDEX name ON …` as pg_get_indexdef writes it. */
function indexNameOf(definition: string): string {
  const match = /^CREATE (?:UNIQUE )?INDEX ("(?:[^"]|"")+"|\S+) ON /.exec(definition)
  if (!match) throw new Error(`unexpected index definition: ${definition}`)
  const name = match[1]!
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name
}

/** Points an index definition written for the source table at the target table (they differ with `into`). */
function retarget(definition: string, from: TableRef, to: TableRef): string {
  if (from.equals(to)) return definition
  const identifier = '(?:"(?:[^"]|"")+"|[^\\s."]+)'
  const onClause = new RegExp(` ON (ONLY )?${identifier}\\.${identifier} USING `)
  return definition.replace(
    onClause,
    (_match, only: string | undefined) => ` ON ${only ?? ''}${to.sql} USING `,
  )
}
