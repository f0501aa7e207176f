import type {
  Catalog,
  CollationInfo,
  ColumnInfo,
  ConstraintInfo,
  ExtensionInfo,
  FunctionInfo,
  SequenceInfo,
  TableInfo,
  TypeInfo,
} from './catalog.js'
import { displayIdentifier, quoteIdent, quoteLiteral, type TableRef } from '../db/table-ref.js'
import { baseTypeProblem, baseTypeStatements } from './base-type.js'

export interface DdlOptions {
  /** The target's `server_version_num`: syntax newer than the target is left out or refused. @default 180000 */
  readonly targetVersion?: number
}

/** A statement and what it makes, for messages: `index public.orders_pkey`. */
export interface Statement {
  readonly sql: string
  readonly what: string
  /** Why the target cannot take it (a feature newer than its version): not run, reported with this reason. */
  readonly refused?: string
}

/** How a table is tied to its parents on the target. */
export interface TableLinks {
  /** Inheritance parents (not partitioned ones) that exist on the target, in inheritance order. */
  readonly inheritFrom?: readonly TableInfo[]
  /**
   * The table joins parents that already have their CHECK constraints (ATTACH PARTITION and INHERIT
   * require them on the table): it is created with the checks it inherits, instead of getting them after
   * its data.
   */
  readonly withInheritedChecks?: boolean
}

/**
 * CREATE statements for the target, written from the source catalog with the server's own helpers
 * (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef, pg_get_triggerdef, pg_get_functiondef, …),
 * so no pg_dump is needed. They are meant to run with `search_path = ''`, which is how the catalog rendered
 * every name.
 */
export class Ddl {
  private readonly targetVersion: number

  constructor(
    private readonly catalog: Catalog,
    options: DdlOptions = {},
  ) {
    this.targetVersion = options.targetVersion ?? 180000
  }

  createSchema(schema: string): string {
    return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`
  }

  /** The schema's comment on the source, for a schema this run creates. */
  schemaComment(schema: string): string[] {
    const info = this.catalog.schemas.find((s) => s.name === schema)
    return comment(`SCHEMA ${quoteIdent(schema)}`, info?.comment ?? null)
  }

  /** The extension in the schema it has on the source (its objects are referred to by that schema); CASCADE installs what it requires. */
  createExtension(extension: ExtensionInfo): string {
    const schema = extension.schema ? ` WITH SCHEMA ${quoteIdent(extension.schema)}` : ''
    return `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(extension.name)}${schema} CASCADE`
  }

  createCollation(collation: CollationInfo): string[] {
    const options: string[] = []
    const locale = collation.locale ?? collation.lcCollate
    const refused =
      collation.provider === 'b'
        ? this.needs('the builtin collation provider', 170000)
        : collation.provider === 'i' && collation.rules !== null
          ? this.needs('an ICU collation with rules', 160000)
          : undefined
    if (refused !== undefined) throw new Error(refused)
    if (collation.provider === 'i') {
      options.push(`provider = icu`, `locale = ${quoteLiteral(locale ?? '')}`)
      if (collation.rules !== null) options.push(`rules = ${quoteLiteral(collation.rules)}`)
    } else if (collation.provider === 'b') {
      options.push(`provider = builtin`, `locale = ${quoteLiteral(locale ?? '')}`)
    } else {
      options.push(
        `provider = libc`,
        `lc_collate = ${quoteLiteral(collation.lcCollate ?? '')}`,
        `lc_ctype = ${quoteLiteral(collation.lcCtype ?? '')}`,
      )
    }
    if (!collation.deterministic) options.push('deterministic = false')
    return [
      `CREATE COLLATION ${collation.ref.sql} (${options.join(', ')})`,
      ...comment(`COLLATION ${collation.ref.sql}`, collation.comment),
    ]
  }

  /**
   * An enum (labels in order), domain (base type, collation, default, NOT NULL, checks), composite or range
   * type, with its comments. Domain checks that are NOT VALID on the source come later (`lateTypeStatements`):
   * rows the source holds may violate them.
   */
  createType(type: TypeInfo): string[] {
    const name = type.ref.sql
    const statements: string[] = []
    switch (type.kind) {
      case 'e':
        statements.push(`CREATE TYPE ${name} AS ENUM (${type.labels.map(quoteLiteral).join(', ')})`)
        break
      case 'd': {
        const parts = [`CREATE DOMAIN ${name} AS ${type.baseType}`]
        if (type.collation) parts.push(`COLLATE ${type.collation}`)
        if (type.defaultExpr !== null) parts.push(`DEFAULT ${type.defaultExpr}`)
        if (type.notNull) {
          const named = type.notNullName && this.targetVersion >= 170000
          parts.push(named ? `CONSTRAINT ${quoteIdent(type.notNullName!)} NOT NULL` : 'NOT NULL')
        }
        for (const check of type.checks) {
          if (check.validated) parts.push(`CONSTRAINT ${quoteIdent(check.name)} ${check.definition}`)
        }
        statements.push(parts.join(' '))
        for (const check of type.checks) {
          statements.push(...comment(`CONSTRAINT ${quoteIdent(check.name)} ON DOMAIN ${name}`, check.comment))
        }
        break
      }
      case 'c':
        statements.push(
          `CREATE TYPE ${name} AS (${type.attributes
            .map((a) => `${quoteIdent(a.name)} ${a.type}${a.collation ? ` COLLATE ${a.collation}` : ''}`)
            .join(', ')})`,
        )
        for (const attribute of type.attributes) {
          statements.push(...comment(`COLUMN ${name}.${quoteIdent(attribute.name)}`, attribute.comment))
        }
        break
      case 'r': {
        if (type.rangeCanonical) {
          throw new Error(
            `range type ${type.ref.display} has a canonical function (${type.rangeCanonical}), which only C code can provide`,
          )
        }
        const options = [`SUBTYPE = ${type.rangeSubtype}`]
        if (type.rangeOpclass) options.push(`SUBTYPE_OPCLASS = ${type.rangeOpclass}`)
        if (type.rangeCollation) options.push(`COLLATION = ${type.rangeCollation}`)
        if (type.rangeSubdiff) options.push(`SUBTYPE_DIFF = ${type.rangeSubdiff}`)
        if (type.multirangeName && this.targetVersion >= 140000)
          options.push(`MULTIRANGE_TYPE_NAME = ${type.multirangeName}`)
        statements.push(`CREATE TYPE ${name} AS RANGE (${options.join(', ')})`)
        break
      }
      default:
        statements.push(...this.createBaseType(type))
    }
    statements.push(...comment(`TYPE ${name}`, type.comment))
    return statements
  }

  /** A base type made by hand, as pg_dump makes it (base-type.ts); one written in C fails, naming its library. */
  private createBaseType(type: TypeInfo): string[] {
    const base = type.baseDefinition
    if (!base) throw new Error(`${type.ref.display} is a base type whose definition could not be read`)
    const problem = baseTypeProblem(type.ref.display, base)
    if (problem) throw new Error(problem)
    return baseTypeStatements(type.ref.sql, base, this.targetVersion)
  }

  /** Domain checks that are NOT VALID on the source: added once every table's rows are in, still NOT VALID. */
  lateTypeStatements(type: TypeInfo): string[] {
    return type.checks
      .filter((check) => !check.validated)
      .map(
        (check) =>
          `ALTER DOMAIN ${type.ref.sql} ADD CONSTRAINT ${quoteIdent(check.name)} ${check.definition.replace(/ NOT VALID$/, '')} NOT VALID`,
      )
  }

  createFunction(fn: FunctionInfo): string[] {
    if (!fn.definition) throw new Error(`${fn.signature} is an aggregate or window function`)
    return [
      fn.definition,
      ...comment(`${fn.kind === 'p' ? 'PROCEDURE' : 'FUNCTION'} ${fn.signature}`, fn.comment),
    ]
  }

  createSequence(sequence: SequenceInfo): string[] {
    const unlogged = sequence.persistence === 'u' && this.targetVersion >= 150000 ? 'UNLOGGED ' : ''
    return [
      `CREATE ${unlogged}SEQUENCE IF NOT EXISTS ${sequence.ref.sql} ${sequenceOptions(sequence)}`,
      ...comment(`SEQUENCE ${sequence.ref.sql}`, sequence.comment),
    ]
  }

  /**
   * The table itself: columns in their physical order with exact types, collations, defaults, NOT NULL
   * (named, on PostgreSQL 18), identity and generated columns; the partition key of a partitioned table;
   * inheritance; unlogged; access method. No index or constraint other than NOT NULL: those come after the
   * data. A partition is created as a table of its own (keeping its physical column order, which may differ
   * from its parent's) and attached while still empty (`attachPartition`), as pg_dump does.
   *
   * An inheritance child is written `CREATE TABLE … INHERITS (…)` when that yields the source's column
   * order (the parents' columns first, then its own); otherwise it is created with all its columns in
   * order and then joined to its parents with `ALTER TABLE … INHERIT`.
   */
  createTable(table: TableInfo, into: TableRef = table.ref, links: TableLinks = {}): string[] {
    const parents = links.inheritFrom ?? []
    const inheritsForm = parents.length > 0 && inheritsKeepsOrder(table, parents)
    const partitionParent =
      table.isPartition && table.parentOid !== null ? this.catalog.tableByOid(table.parentOid) : undefined
    const identitySequences = new Map(
      this.catalog
        .ownedSequences(table)
        .filter((sequence) => sequence.ownerDependency === 'i')
        .map((sequence) => [sequence.ownerColumn, sequence]),
    )
    if (this.targetVersion >= 160000) {
      for (const column of table.columns.filter((c) => c.generated !== '')) {
        const plainIn = parents.find((parent) =>
          parent.columns.some((c) => c.name === column.name && c.generated === ''),
        )
        if (plainIn)
          throw new Error(
            `column ${displayIdentifier(column.name)} is generated here but plain in its parent ${plainIn.ref.display}, ` +
              `which PostgreSQL 16 and later refuse (the target runs ${this.targetMajor}); ` +
              `copied as a plain column its values would be lost`,
          )
      }
    }
    const listed = inheritsForm ? table.columns.filter((column) => column.isLocal) : table.columns
    const columns = listed.map((column) => {
      const parentColumn = partitionParent?.columns.find((c) => c.name === column.name)
      return this.columnDefinition(column, {
        identitySequence: identitySequences.get(column.name),
        // a partition's identity is its parent's, given to it by ATTACH PARTITION
        skipIdentity: Boolean(parentColumn?.identity),
        inherited: inheritsForm && column.inheritedCount > 0,
        // Up to PostgreSQL 15 a child may generate a column its parent has plain; merged into the parent's
        // column it must say so itself, or it arrives plain and COPY, which skips generated columns, leaves
        // it NULL. From 16 on the server refuses the child, and so the table fails with its reason.
        parentGenerates: parents.some((parent) =>
          parent.columns.some((c) => c.name === column.name && c.generated !== ''),
        ),
      })
    })
    const statements: string[] = []
    const unlogged = table.persistence === 'u' ? 'UNLOGGED ' : ''
    if (links.withInheritedChecks && !inheritsForm) {
      for (const check of table.constraints) {
        if (check.type === 'c' && !check.isLocal)
          columns.push(`CONSTRAINT ${quoteIdent(check.name)} ${check.definition}`)
      }
    }
    const body = columns.length ? `\n  ${columns.join(',\n  ')}\n` : ''
    const inherits = inheritsForm ? ` INHERITS (${parents.map((p) => p.ref.sql).join(', ')})` : ''
    const partitioned = table.kind === 'p' && table.partitionKey ? ` PARTITION BY ${table.partitionKey}` : ''
    const method = table.accessMethod ? ` USING ${quoteIdent(table.accessMethod)}` : ''
    statements.push(`CREATE ${unlogged}TABLE ${into.sql} (${body})${inherits}${partitioned}${method}`)
    if (!inheritsForm) {
      for (const parent of parents) statements.push(`ALTER TABLE ${into.sql} INHERIT ${parent.ref.sql}`)
    } else {
      // Inherited-only columns take the parent's default and NOT NULL; the child's own differ at times.
      for (const column of table.columns.filter((c) => !c.isLocal)) {
        const parentColumn = parents
          .flatMap((p) => p.columns)
          .find((c) => c.name === column.name && !c.generated)
        if (!parentColumn) continue
        if (column.defaultExpr !== parentColumn.defaultExpr && !column.generated)
          statements.push(
            column.defaultExpr === null
              ? `ALTER TABLE ONLY ${into.sql} ALTER COLUMN ${quoteIdent(column.name)} DROP DEFAULT`
              : `ALTER TABLE ONLY ${into.sql} ALTER COLUMN ${quoteIdent(column.name)} SET DEFAULT ${column.defaultExpr}`,
          )
        if (column.notNull && !parentColumn.notNull)
          statements.push(`ALTER TABLE ONLY ${into.sql} ALTER COLUMN ${quoteIdent(column.name)} SET NOT NULL`)
      }
    }
    if (table.ofType) statements.push(`ALTER TABLE ${into.sql} OF ${table.ofType}`)
    return statements
  }

  /**
   * Settings of a table that do not change what it holds: storage parameters, column storage, compression
   * and statistics targets, replica identity, comments. Each may fail alone (a target without lz4, say)
   * without failing the table.
   */
  tableSettings(table: TableInfo, into: TableRef = table.ref): Statement[] {
    const statements: Statement[] = []
    const what = `settings of ${into.display}`
    const only = `ALTER TABLE ONLY ${into.sql}`
    const options = [
      ...table.options.map(reloption),
      ...table.toastOptions.map((option) => reloption(`toast.${option}`)),
    ]
    if (options.length) statements.push({ sql: `${only} SET (${options.join(', ')})`, what })
    // CREATE TABLE … INHERITS gives a column its parent's storage and compression as they are now, which
    // the parent may have been given after this table was made (ALTER TABLE ONLY): set back when they differ.
    const parents = table.isPartition ? [] : this.catalog.parents(table)
    for (const column of table.columns) {
      const col = `${only} ALTER COLUMN ${quoteIdent(column.name)}`
      const inherited = parents.flatMap((parent) => parent.columns.filter((c) => c.name === column.name))
      if (column.storage !== column.typeStorage || inherited.some((c) => c.storage !== column.storage))
        statements.push({ sql: `${col} SET STORAGE ${STORAGE[column.storage] ?? 'EXTENDED'}`, what })
      if (column.compression && this.targetVersion >= 140000)
        statements.push({
          sql: `${col} SET COMPRESSION ${column.compression === 'l' ? 'lz4' : 'pglz'}`,
          what,
        })
      else if (inherited.some((c) => c.compression) && this.targetVersion >= 140000)
        statements.push({ sql: `${col} SET COMPRESSION default`, what })
      if (column.statisticsTarget !== null && column.statisticsTarget >= 0)
        statements.push({ sql: `${col} SET STATISTICS ${column.statisticsTarget}`, what })
      if (column.options.length)
        statements.push({ sql: `${col} SET (${column.options.map(reloption).join(', ')})`, what })
    }
    // From PostgreSQL 15 an unlogged table's identity sequence is made unlogged with it; before, it was
    // logged, and one from such a source stays so.
    if (table.persistence === 'u' && this.targetVersion >= 150000) {
      for (const sequence of this.catalog.ownedSequences(table))
        if (sequence.ownerDependency === 'i' && sequence.persistence === 'p')
          statements.push({ sql: `ALTER SEQUENCE ${sequence.ref.sql} SET LOGGED`, what })
    }
    if (table.replicaIdentity === 'f') statements.push({ sql: `${only} REPLICA IDENTITY FULL`, what })
    if (table.replicaIdentity === 'n') statements.push({ sql: `${only} REPLICA IDENTITY NOTHING`, what })
    for (const sql of comment(`TABLE ${into.sql}`, table.comment)) statements.push({ sql, what })
    for (const column of table.columns) {
      for (const sql of comment(`COLUMN ${into.sql}.${quoteIdent(column.name)}`, column.comment))
        statements.push({ sql, what })
    }
    return statements
  }

  /**
   * Everything that makes the table again after `DROP TABLE … CASCADE` (mode: recreate): the serial
   * sequences the drop took with it, the table, its sequences' ownership, its place under its partitioned
   * table or inheritance parents (when the dropped table had one: `linked`).
   */
  recreateTable(table: TableInfo, into: TableRef, linked: boolean): string[] {
    const parents = linked && !table.isPartition ? this.catalog.parents(table) : []
    const partitionParent =
      linked && table.isPartition && table.parentOid !== null
        ? this.catalog.tableByOid(table.parentOid)
        : undefined
    const statements = [
      ...this.catalog
        .ownedSequences(table)
        .filter((sequence) => sequence.ownerDependency === 'a')
        .flatMap((sequence) => this.createSequence(sequence)),
      ...this.createTable(table, into, { inheritFrom: parents, withInheritedChecks: linked }),
      ...this.sequenceOwnership(table, into),
    ]
    if (partitionParent && table.partitionBound)
      statements.push(this.attachPartition(table, partitionParent, into))
    return statements
  }

  /**
   * What the target's version cannot give a table it still creates, one sentence each. Before PostgreSQL 17
   * a partition does not share its partitioned table's identity column: ATTACH PARTITION leaves the
   * partition's column plain, so only rows inserted through the partitioned table get values from it.
   */
  shortfalls(table: TableInfo): string[] {
    if (this.targetVersion >= 170000 || !table.isPartition || table.parentOid === null) return []
    const parent = this.catalog.tableByOid(table.parentOid)
    if (!parent) return []
    return parent.columns
      .filter((column) => column.identity && table.columns.some((c) => c.name === column.name && c.identity))
      .map(
        (column) =>
          `column ${displayIdentifier(column.name)} is not an identity column here: a partition shares its partitioned table's identity (${parent.ref.display}) only from PostgreSQL 17 (the target runs ${this.targetMajor}); rows inserted into the partition directly get no value from it`,
      )
  }

  /**
   * An inheritance child whose columns are not in the order `CREATE TABLE … INHERITS` gives (a parent gained
   * columns after it was created) is made with every column and then `ALTER TABLE … INHERIT`: its exact
   * column order, but the columns it only inherits then count as its own (attislocal), which no DDL
   * undoes. Said, not left silent: on the target a DROP COLUMN on the parent leaves them in the child.
   */
  inheritanceShortfall(table: TableInfo, parents: readonly TableInfo[]): string[] {
    if (parents.length === 0 || inheritsKeepsOrder(table, parents)) return []
    const inherited = table.columns.filter((column) => !column.isLocal)
    if (inherited.length === 0) return []
    const names = parents.map((parent) => parent.ref.display).join(', ')
    return [
      `columns ${inherited.map((column) => displayIdentifier(column.name)).join(', ')} are inherited from ${names} on the source but count as its own on the target (attislocal): ` +
        `${names} gained columns after ${table.ref.display} was created, and only CREATE TABLE with every column keeps its column order`,
    ]
  }

  /**
   * Why the target cannot take a constraint of the source, or undefined when it can: temporal keys and
   * foreign keys, and NOT ENFORCED constraints, are new in PostgreSQL 18.
   */
  constraintShortfall(constraint: ConstraintInfo): string | undefined {
    if (constraint.period)
      return this.needs(
        constraint.type === 'f'
          ? 'a temporal foreign key (PERIOD)'
          : `a temporal ${constraint.type === 'p' ? 'primary key' : 'unique constraint'} (WITHOUT OVERLAPS)`,
        180000,
      )
    if (!constraint.enforced) return this.needs('a NOT ENFORCED constraint', 180000)
    return undefined
  }

  /** Why a feature of PostgreSQL `version` is refused on this target, or undefined when the target has it. */
  private needs(feature: string, version: number): string | undefined {
    return this.targetVersion < version
      ? `${feature} needs PostgreSQL ${Math.floor(version / 10000)} (the target runs ${this.targetMajor})`
      : undefined
  }

  private get targetMajor(): number {
    return Math.floor(this.targetVersion / 10000)
  }

  /** The table access method a table uses, made as on the source (its handler must exist on the target). */
  createAccessMethod(table: TableInfo): string | null {
    if (!table.accessMethod || !table.accessMethodHandler) return null
    return `CREATE ACCESS METHOD ${quoteIdent(table.accessMethod)} TYPE TABLE HANDLER ${table.accessMethodHandler}`
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
  attachPartition(table: TableInfo, parent: TableInfo, into: TableRef = table.ref): string {
    return `ALTER TABLE ONLY ${parent.ref.sql} ATTACH PARTITION ${into.sql} ${table.partitionBound}`
  }

  /**
   * Makes serial columns' sequences belong to their column again, as on the source. Not for a table copied
   * `into:` another name: its default draws from the source's sequence by that sequence's name, which the
   * target's copy of the source table (there, or made later) owns; taken over, dropping the renamed table
   * would drop that table's default with it. Nor could it be across schemas: PostgreSQL links a sequence
   * only to a table of its own schema.
   */
  sequenceOwnership(table: TableInfo, into: TableRef = table.ref): string[] {
    if (!into.equals(table.ref)) return []
    return this.catalog
      .ownedSequences(table)
      .filter((sequence) => sequence.ownerDependency === 'a' && sequence.ownerColumn)
      .map(
        (sequence) =>
          `ALTER SEQUENCE ${sequence.ref.sql} OWNED BY ${into.sql}.${quoteIdent(sequence.ownerColumn!)}`,
      )
  }

  /**
   * What is built after the data, so that none of it slows the load, rejects a row, fires on one or hides
   * one: primary keys and unique constraints (as a unique index first, which allows several builds on one
   * table at once), exclusion and check constraints, other indexes, statistics objects, triggers, rules,
   * row-level security, and their comments. A partitioned table's indexes and constraints are made on the
   * parent only and its partitions' ones attached to them, which requires those to exist: a parent's
   * statements run after its partitions'. Foreign keys come later, once every table is in.
   *
   * `standalone`: the table was created without its inheritance parents, so the checks it inherits
   * become its own. `attached`: a partition attached to a partitioned table that already had its indexes,
   * keys and checks, which attaching gave the partition.
   */
  afterData(table: TableInfo, into: TableRef = table.ref, options: AfterDataOptions = {}): Statement[] {
    const shortfall = (constraint: ConstraintInfo) => this.constraintShortfall(constraint)
    return [
      ...keyConstraints(table, into, options, shortfall),
      ...checkConstraints(table, into, options, shortfall),
      ...notValidNotNulls(table, into, this.needs('a NOT NULL constraint that is NOT VALID', 180000)),
      ...indexes(table, into, options),
      ...(table.kind === 'p' ? this.attachIndexes(table) : []),
      ...indexSettings(table, into),
      ...constraintComments(table, into),
      ...statisticsObjects(table, into),
      ...this.triggers(table, into, options),
      ...rules(table, into),
      ...policies(table, into),
      ...rowSecurity(table, into),
    ]
  }

  /**
   * Triggers, their enabled state (on a partitioned table's partitions too) and comments. A partition's
   * clone of its parent's trigger comes with the parent's; only its own state is set, where attaching gave it
   * the state of a partitioned table the target had.
   */
  private triggers(table: TableInfo, into: TableRef, options: AfterDataOptions): Statement[] {
    const statements: Statement[] = []
    for (const trigger of table.triggers) {
      if (trigger.isClone) {
        // Attaching to a partitioned table the target had gave the partition that table's triggers, in
        // their state there; the partition's own state on the source may differ.
        if (options.attached) statements.push(...this.cloneTriggerState(table, into, trigger.name))
        continue
      }
      const what = `trigger ${quoteIdent(trigger.name)} of ${into.display}`
      statements.push(on(what, retargetOn(trigger.definition, table.ref, into)))
      const state = ENABLED_STATE[trigger.enabled]
      if (state)
        statements.push(on(what, `ALTER TABLE ${into.sql} ${state} TRIGGER ${quoteIdent(trigger.name)}`))
      // Where every copy is enabled, as the parent, nothing needs setting (and before PostgreSQL 15 the
      // copies are internal triggers that ALTER TABLE … TRIGGER refuses).
      if (table.kind === 'p' && this.anyCloneDisabledOrSpecial(table, trigger.name, trigger.enabled))
        statements.push(...this.partitionTriggerStates(table, trigger.name))
      statements.push(
        ...comments(what, `TRIGGER ${quoteIdent(trigger.name)} ON ${into.sql}`, trigger.comment),
      )
    }
    return statements
  }

  /**
   * A trigger on a partitioned table is cloned onto every partition in the parent's state, and ALTER TABLE
   * on the parent sets all the clones at once; each partition's clone may have a state of its own on the
   * source (ALTER TABLE partition DISABLE TRIGGER …). Set top-down, each with ONLY, so a sub-partitioned
   * table's own state does not overwrite its partitions'.
   */
  private partitionTriggerStates(table: TableInfo, name: string): Statement[] {
    const statements: Statement[] = []
    for (const child of this.catalog.children(table)) {
      if (!child.isPartition) continue
      statements.push(...this.cloneTriggerState(child, child.ref, name))
      if (child.kind === 'p') statements.push(...this.partitionTriggerStates(child, name))
    }
    return statements
  }

  private anyCloneDisabledOrSpecial(table: TableInfo, name: string, parentState: string): boolean {
    if (parentState !== 'O') return true
    return this.catalog
      .children(table)
      .some(
        (child) =>
          child.isPartition &&
          (child.triggers.some((t) => t.isClone && t.name === name && t.enabled !== 'O') ||
            (child.kind === 'p' && this.anyCloneDisabledOrSpecial(child, name, 'O'))),
      )
  }

  private cloneTriggerState(partition: TableInfo, into: TableRef, name: string): Statement[] {
    const clone = partition.triggers.find((t) => t.isClone && t.name === name)
    if (!clone) return []
    return [
      {
        sql: `ALTER TABLE ONLY ${into.sql} ${ENABLED_STATE[clone.enabled] ?? 'ENABLE'} TRIGGER ${quoteIdent(name)}`,
        what: `trigger ${quoteIdent(name)} of ${into.display}`,
      },
    ]
  }

  /** The foreign keys declared on this table (a partition's copies of its parent's keys come with those). */
  foreignKeys(table: TableInfo): ConstraintInfo[] {
    return table.constraints.filter((c) => c.type === 'f' && c.isLocal && c.parentConstraintOid === 0)
  }

  /** Attaches each partition's index to the partitioned table's index it belongs to, as on the source. */
  private attachIndexes(table: TableInfo): Statement[] {
    const statements: Statement[] = []
    for (const index of table.indexes) {
      const parentName = `${quoteIdent(table.ref.schema)}.${quoteIdent(index.name)}`
      for (const child of this.catalog.children(table)) {
        const childIndex = child.indexes.find((i) => i.parentIndexOid === index.oid)
        if (!childIndex) continue
        statements.push({
          sql: `ALTER INDEX ${parentName} ATTACH PARTITION ${quoteIdent(child.ref.schema)}.${quoteIdent(childIndex.name)}`,
          what: `index ${parentName}`,
        })
      }
    }
    return statements
  }

  private columnDefinition(
    column: ColumnInfo,
    options: {
      identitySequence: SequenceInfo | undefined
      skipIdentity: boolean
      inherited: boolean
      parentGenerates: boolean
    },
  ): string {
    const parts = [quoteIdent(column.name), column.type]
    if (column.collation) parts.push(`COLLATE ${column.collation}`)
    if (column.generated && column.defaultExpr) {
      if (column.generated === 'v' && this.targetVersion < 180000)
        throw new Error(
          `column ${quoteIdent(column.name)} is a virtual generated column, which needs PostgreSQL 18 (the target runs ${this.targetMajor})`,
        )
      // A merged column takes the generation expression of the column it inherits.
      if (!options.inherited || !options.parentGenerates)
        parts.push(
          `GENERATED ALWAYS AS (${column.defaultExpr}) ${column.generated === 'v' ? 'VIRTUAL' : 'STORED'}`,
        )
    } else if (column.identity && !options.skipIdentity) {
      const kind = column.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'
      const sequence = options.identitySequence
      parts.push(
        `GENERATED ${kind} AS IDENTITY${sequence ? ` (SEQUENCE NAME ${sequence.ref.sql} ${sequenceOptions(sequence, false)})` : ''}`,
      )
    } else if (column.defaultExpr) {
      parts.push(`DEFAULT ${column.defaultExpr}`)
    }
    if (column.notNull && column.notNullValidated && (column.notNullIsLocal || !options.inherited)) {
      const named = column.notNullName && this.targetVersion >= 180000
      parts.push(`${named ? `CONSTRAINT ${quoteIdent(column.notNullName!)} ` : ''}NOT NULL`)
      if (column.notNullNoInherit && this.targetVersion >= 180000) parts.push('NO INHERIT')
    }
    return parts.join(' ')
  }
}

/** How a table came to be on the target, for `afterData`. */
export interface AfterDataOptions {
  /** Created without the inheritance parents it has on the source: it takes their checks as its own. */
  readonly standalone?: boolean
  /** A partition attached to a partitioned table the target had: attaching gave it that table's indexes and keys. */
  readonly attached?: boolean
}

/** A statement on `into`, with `what` it builds. */
function on(what: string, sql: string): Statement {
  return { sql, what }
}

/** COMMENT statements, each marked as part of `what`. */
function comments(what: string, object: string, text: string | null): Statement[] {
  return comment(object, text).map((sql) => ({ sql, what }))
}

/** Why the target cannot take a constraint, or undefined when it can. */
type Shortfall = (constraint: ConstraintInfo) => string | undefined

/** Primary keys, unique and exclusion constraints: a key's index built first, then taken over by it. */
function keyConstraints(
  table: TableInfo,
  into: TableRef,
  options: AfterDataOptions,
  shortfall: Shortfall,
): Statement[] {
  const statements: Statement[] = []
  const only = `ALTER TABLE ONLY ${into.sql}`
  const partitioned = table.kind === 'p'
  for (const constraint of table.constraints) {
    if (constraint.type !== 'p' && constraint.type !== 'u' && constraint.type !== 'x') continue
    if (!constraint.isLocal && constraint.parentConstraintOid === 0) continue
    if (options.attached && constraint.parentConstraintOid !== 0) continue
    const name = indexNameFor(constraint.name, table.ref, into)
    const what = `constraint ${quoteIdent(name)} of ${into.display}`
    const refused = shortfall(constraint)
    if (refused !== undefined) {
      statements.push({ sql: '', what, refused })
      continue
    }
    // A partition's key is added as such, not USING INDEX: that would make its inherited NOT NULL
    // constraints (PostgreSQL 18) its own. So is a temporal key (WITHOUT OVERLAPS): its index is a GiST
    // one, which CREATE UNIQUE INDEX refuses ("access method gist does not support unique indexes").
    if (
      (constraint.type === 'p' || constraint.type === 'u') &&
      !constraint.period &&
      !partitioned &&
      !table.isPartition &&
      constraint.indexDefinition
    ) {
      const indexName = indexNameFor(
        constraint.indexName ?? indexNameOf(constraint.indexDefinition),
        table.ref,
        into,
      )
      statements.push(on(what, renameIndex(retarget(constraint.indexDefinition, table.ref, into), indexName)))
      statements.push(
        on(
          what,
          `${only} ADD CONSTRAINT ${quoteIdent(name)} ${constraint.type === 'p' ? 'PRIMARY KEY' : 'UNIQUE'} USING INDEX ${quoteIdent(indexName)}${deferrability(constraint)}`,
        ),
      )
    } else {
      statements.push(on(what, `${only} ADD CONSTRAINT ${quoteIdent(name)} ${constraint.definition}`))
    }
  }
  return statements
}

/** The table's check constraints, in one ALTER TABLE; those the target cannot take, each refused alone. */
function checkConstraints(
  table: TableInfo,
  into: TableRef,
  options: AfterDataOptions,
  shortfall: Shortfall,
): Statement[] {
  const checks = table.constraints.filter(
    (c) => c.type === 'c' && (c.isLocal || (table.isPartition && !options.attached) || options.standalone),
  )
  const statements: Statement[] = []
  const taken: ConstraintInfo[] = []
  for (const check of checks) {
    const refused = shortfall(check)
    if (refused === undefined) taken.push(check)
    else
      statements.push({ sql: '', what: `constraint ${quoteIdent(check.name)} of ${into.display}`, refused })
  }
  if (taken.length === 0) return statements
  // One ALTER TABLE validates all its new constraints in a single scan of the table. Without ONLY it
  // reaches the children, whose copies of the checks are then inherited ones, as on the source.
  return [
    on(
      `check constraints of ${into.display}`,
      `ALTER TABLE ${into.sql} ${taken.map((c) => `ADD CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`).join(', ')}`,
    ),
    ...statements,
  ]
}

/**
 * NOT NULL constraints that are NOT VALID on the source (PostgreSQL 18) stay so; before 18 (`refused`) the
 * column stays nullable, as the rows it holds may need.
 */
function notValidNotNulls(table: TableInfo, into: TableRef, refused: string | undefined): Statement[] {
  return table.columns.flatMap((column) => {
    if (!column.notNull || column.notNullValidated || !column.notNullName) return []
    const what = `constraint ${quoteIdent(column.notNullName)} of ${into.display}`
    if (refused !== undefined)
      return [
        { sql: '', what, refused: `${refused}; column ${displayIdentifier(column.name)} stays nullable` },
      ]
    return [
      on(
        what,
        `ALTER TABLE ONLY ${into.sql} ADD CONSTRAINT ${quoteIdent(column.notNullName)} NOT NULL ${quoteIdent(column.name)} NOT VALID`,
      ),
    ]
  })
}

/** The indexes no constraint owns (an invalid one only on a partitioned table, where it awaits its partitions). */
function indexes(table: TableInfo, into: TableRef, options: AfterDataOptions): Statement[] {
  const schema = quoteIdent(into.schema)
  return table.indexes
    .filter((index) => !index.constraintName && (index.isValid || table.kind === 'p'))
    .filter((index) => !(options.attached && index.parentIndexOid !== null))
    .map((index) => {
      const name = indexNameFor(index.name, table.ref, into)
      return on(
        `index ${schema}.${quoteIdent(name)}`,
        renameIndex(retarget(index.definition, table.ref, into), name),
      )
    })
}

/** Per-column statistics targets, CLUSTER ON, REPLICA IDENTITY and comments of the table's indexes. */
function indexSettings(table: TableInfo, into: TableRef): Statement[] {
  const statements: Statement[] = []
  const only = `ALTER TABLE ONLY ${into.sql}`
  for (const index of table.indexes) {
    const indexName = indexNameFor(index.name, table.ref, into)
    const name = `${quoteIdent(into.schema)}.${quoteIdent(indexName)}`
    const what = `index ${name}`
    for (const target of index.statisticsTargets) {
      const [column, value] = target.split('=')
      statements.push(on(what, `ALTER INDEX ${name} ALTER COLUMN ${column} SET STATISTICS ${value}`))
    }
    if (index.isClustered) statements.push(on(what, `${only} CLUSTER ON ${quoteIdent(indexName)}`))
    if (index.isReplicaIdentity)
      statements.push(on(what, `${only} REPLICA IDENTITY USING INDEX ${quoteIdent(indexName)}`))
    statements.push(...comments(what, `INDEX ${name}`, index.comment))
  }
  return statements
}

/** Comments of the constraints other than foreign keys (those come with the keys). */
function constraintComments(table: TableInfo, into: TableRef): Statement[] {
  return table.constraints
    .filter((constraint) => constraint.type !== 'f')
    .flatMap((constraint) => {
      // A key's and an exclusion constraint's names are their indexes' (see indexNameFor).
      const name = ['p', 'u', 'x'].includes(constraint.type)
        ? indexNameFor(constraint.name, table.ref, into)
        : constraint.name
      return comments(
        `constraint ${quoteIdent(name)} of ${into.display}`,
        `CONSTRAINT ${quoteIdent(name)} ON ${into.sql}`,
        constraint.comment,
      )
    })
}

/** Extended statistics objects, their statistics targets and comments. */
function statisticsObjects(table: TableInfo, into: TableRef): Statement[] {
  return table.statistics.flatMap((statistics) => {
    const what = `statistics ${statistics.qualifiedName}`
    return [
      on(what, retargetStatistics(statistics.definition, table.ref, into)),
      ...(statistics.statisticsTarget !== null
        ? [
            on(
              what,
              `ALTER STATISTICS ${statistics.qualifiedName} SET STATISTICS ${statistics.statisticsTarget}`,
            ),
          ]
        : []),
      ...comments(what, `STATISTICS ${statistics.qualifiedName}`, statistics.comment),
    ]
  })
}

/** Rules, their enabled state and comments. */
function rules(table: TableInfo, into: TableRef): Statement[] {
  return table.rules.flatMap((rule) => {
    const what = `rule ${quoteIdent(rule.name)} of ${into.display}`
    const state = ENABLED_STATE[rule.enabled]
    return [
      on(what, retargetTo(rule.definition, table.ref, into)),
      ...(state ? [on(what, `ALTER TABLE ${into.sql} ${state} RULE ${quoteIdent(rule.name)}`)] : []),
      ...comments(what, `RULE ${quoteIdent(rule.name)} ON ${into.sql}`, rule.comment),
    ]
  })
}

/** Row-level security policies and their comments. */
function policies(table: TableInfo, into: TableRef): Statement[] {
  return table.policies.flatMap((policy) => {
    const what = `policy ${quoteIdent(policy.name)} of ${into.display}`
    const parts = [
      `CREATE POLICY ${quoteIdent(policy.name)} ON ${into.sql}`,
      `AS ${policy.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'}`,
      `FOR ${POLICY_COMMAND[policy.command] ?? 'ALL'}`,
      `TO ${policy.roles.length ? policy.roles.join(', ') : 'public'}`,
    ]
    if (policy.usingExpr !== null) parts.push(`USING (${policy.usingExpr})`)
    if (policy.checkExpr !== null) parts.push(`WITH CHECK (${policy.checkExpr})`)
    return [
      on(what, parts.join(' ')),
      ...comments(what, `POLICY ${quoteIdent(policy.name)} ON ${into.sql}`, policy.comment),
    ]
  })
}

/** Row-level security switched on (and forced) last, once its policies are there. */
function rowSecurity(table: TableInfo, into: TableRef): Statement[] {
  const what = `row-level security of ${into.display}`
  return [
    ...(table.rowSecurity ? [on(what, `ALTER TABLE ONLY ${into.sql} ENABLE ROW LEVEL SECURITY`)] : []),
    ...(table.forceRowSecurity ? [on(what, `ALTER TABLE ONLY ${into.sql} FORCE ROW LEVEL SECURITY`)] : []),
  ]
}

/**
 * Whether `CREATE TABLE … (own columns) INHERITS (parents)` puts the columns in the source's order: each
 * parent's columns first, in order and without repeats, then the child's own.
 */
function inheritsKeepsOrder(table: TableInfo, parents: readonly TableInfo[]): boolean {
  const expected: string[] = []
  for (const parent of parents) {
    for (const column of parent.columns) if (!expected.includes(column.name)) expected.push(column.name)
  }
  for (const column of table.columns) if (!expected.includes(column.name)) expected.push(column.name)
  const actual = table.columns.map((column) => column.name)
  return expected.length === actual.length && expected.every((name, i) => name === actual[i])
}

const STORAGE: Record<string, string> = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' }
const ENABLED_STATE: Record<string, string> = { D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' }
const POLICY_COMMAND: Record<string, string> = {
  r: 'SELECT',
  a: 'INSERT',
  w: 'UPDATE',
  d: 'DELETE',
  '*': 'ALL',
}

function comment(on: string, text: string | null): string[] {
  return text === null ? [] : [`COMMENT ON ${on} IS ${quoteLiteral(text)}`]
}

/** `fillfactor=70` → `fillfactor = '70'`: a value is always accepted as a string literal. */
function reloption(option: string): string {
  const at = option.indexOf('=')
  if (at < 0) return option
  return `${option.slice(0, at)} = ${quoteLiteral(option.slice(at + 1))}`
}

function deferrability(constraint: ConstraintInfo): string {
  if (/\bINITIALLY DEFERRED\b/.test(constraint.definition)) return ' DEFERRABLE INITIALLY DEFERRED'
  if (/\bDEFERRABLE\b/.test(constraint.definition) && !/\bNOT DEFERRABLE\b/.test(constraint.definition))
    return ' DEFERRABLE'
  return ''
}

/** Sequence options; an identity column's sequence takes its type from the column (`AS` is refused there). */
function sequenceOptions(sequence: SequenceInfo, withType = true): string {
  return [
    ...(withType ? [`AS ${sequence.dataType}`] : []),
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

/**
 * The name of a table's index (or of the key or exclusion constraint it backs) on a table copied `into:`
 * another name. Index names are unique within a schema, and the target may hold its copy of the source table
 * in the same one, with the source's names: a name that starts with the table's, as PostgreSQL makes them
 * (orders_pkey, orders_status_idx), starts with the new table's instead; in that same schema any other name
 * gets the new table's in front (by_status → orders_paid_by_status), or CREATE INDEX would find it taken. In
 * another schema the rest are kept.
 */
function indexNameFor(name: string, from: TableRef, to: TableRef): string {
  if (from.name === to.name) return name
  if (name.startsWith(`${from.name}_`)) return `${to.name}${name.slice(from.name.length)}`
  return from.schema === to.schema ? `${to.name}_${name}` : name
}

/** An index definition (pg_get_indexdef) under another index name. */
function renameIndex(definition: string, name: string): string {
  if (indexNameOf(definition) === name) return definition
  return definition.replace(
    /^(CREATE (?:UNIQUE )?INDEX )("(?:[^"]|"")+"|\S+)( ON )/,
    (_match, head: string, _old: string, on: string) => `${head}${quoteIdent(name)}${on}`,
  )
}

const IDENTIFIER = '(?:"(?:[^"]|"")+"|[^\\s."(]+)'

/** Points an index definition written for the source table at the target table (they differ with `into`). */
function retarget(definition: string, from: TableRef, to: TableRef): string {
  if (from.equals(to)) return definition
  const onClause = new RegExp(` ON (ONLY )?${IDENTIFIER}\\.${IDENTIFIER} USING `)
  return definition.replace(
    onClause,
    (_match, only: string | undefined) => ` ON ${only ?? ''}${to.sql} USING `,
  )
}

function retargetOn(definition: string, from: TableRef, to: TableRef): string {
  if (from.equals(to)) return definition
  return definition.replace(new RegExp(` ON ${IDENTIFIER}\\.${IDENTIFIER} `), () => ` ON ${to.sql} `)
}

function retargetTo(definition: string, from: TableRef, to: TableRef): string {
  if (from.equals(to)) return definition
  return definition.replace(new RegExp(` TO ${IDENTIFIER}\\.${IDENTIFIER}`), () => ` TO ${to.sql}`)
}

function retargetStatistics(definition: string, from: TableRef, to: TableRef): string {
  if (from.equals(to)) return definition
  return definition.replace(new RegExp(` FROM ${IDENTIFIER}\\.${IDENTIFIER}$`), () => ` FROM ${to.sql}`)
}
