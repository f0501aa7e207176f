import type {
  Catalog,
  CollationInfo,
  ExtensionInfo,
  FunctionInfo,
  ObjectKind,
  SequenceInfo,
  TableInfo,
  TypeInfo,
  Use,
} from './catalog.js'

/** One object the target needs, from the source catalog. */
export type SchemaObject =
  | { readonly kind: 'extension'; readonly key: string; readonly info: ExtensionInfo }
  | { readonly kind: 'collation'; readonly key: string; readonly info: CollationInfo }
  | { readonly kind: 'type'; readonly key: string; readonly info: TypeInfo }
  | { readonly kind: 'function'; readonly key: string; readonly info: FunctionInfo }
  | { readonly kind: 'sequence'; readonly key: string; readonly info: SequenceInfo }
  | { readonly kind: 'table'; readonly key: string; readonly info: TableInfo }

export interface CreationOrder {
  /** Every object the tables need (and the tables), each after what it uses. */
  readonly objects: readonly SchemaObject[]
  /** Per table oid: the keys of the objects that must exist before the table can be created. */
  readonly prerequisites: ReadonlyMap<number, ReadonlySet<string>>
}

export function objectKey(kind: ObjectKind, id: number | string): string {
  return `${kind}:${id}`
}

/**
 * What creating `tables` on another server takes, from pg_depend: the extensions, collations, types,
 * functions and sequences they use (and what those use in turn), in an order that creates every object
 * after the objects it uses — the order pg_dump gets from its dependency sort. A table's indexes,
 * constraints, triggers and policies may use functions too; those are created with the rest, but do not
 * hold up the table. `alsoNeededBy` are tables that are not created but need the same objects (a table
 * dropped and re-created during its copy); `sequences` are wanted on their own.
 */
export function creationOrder(
  catalog: Catalog,
  tables: readonly TableInfo[],
  alsoNeededBy: readonly TableInfo[] = [],
  sequences: readonly SequenceInfo[] = [],
): CreationOrder {
  const created = new Set(tables.map((table) => table.oid))
  const objects: SchemaObject[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const prerequisites = new Map<number, Set<string>>()

  const resolve = (use: Use): SchemaObject | undefined => {
    switch (use.kind) {
      case 'extension': {
        const info = use.extension ? catalog.extension(use.extension) : undefined
        return info ? { kind: 'extension', key: objectKey('extension', info.name), info } : undefined
      }
      case 'collation': {
        const info = catalog.collationByOid(use.oid)
        return info && { kind: 'collation', key: objectKey('collation', use.oid), info }
      }
      case 'type': {
        const info = catalog.typeByOid(use.oid)
        return info && { kind: 'type', key: objectKey('type', use.oid), info }
      }
      case 'function': {
        const info = catalog.functionByOid(use.oid)
        return info && { kind: 'function', key: objectKey('function', use.oid), info }
      }
      case 'sequence': {
        const info = catalog.sequenceByOid(use.oid)
        return info && { kind: 'sequence', key: objectKey('sequence', use.oid), info }
      }
      case 'table': {
        const info = created.has(use.oid) ? catalog.tableByOid(use.oid) : undefined
        return info && { kind: 'table', key: objectKey('table', use.oid), info }
      }
    }
  }

  const oidOf = (object: SchemaObject): number => (object.kind === 'extension' ? 0 : object.info.oid)

  /** Depth first: what an object uses goes out before it; a cycle is cut where it closes. */
  const visit = (object: SchemaObject, emit: boolean): void => {
    if (state.has(object.key)) return
    state.set(object.key, 'visiting')
    const uses = object.kind === 'extension' ? [] : catalog.uses(object.kind, oidOf(object))
    for (const use of uses) {
      if (object.kind === 'table' && use.phase === 'after') continue
      const dependency = resolve(use)
      if (dependency) visit(dependency, true)
    }
    if (object.kind === 'table') {
      // A sequence made OWNED BY one of its columns that no default names: pg_depend has it depend on the
      // column, not the table on it, yet the table's statements make it belong to that column again.
      for (const sequence of catalog.ownedSequences(object.info))
        if (sequence.ownerDependency === 'a')
          visit({ kind: 'sequence', key: objectKey('sequence', sequence.oid), info: sequence }, true)
    }
    state.set(object.key, 'done')
    if (emit) objects.push(object)
    if (object.kind === 'table') {
      // Functions and operator classes for its indexes, constraints and triggers: after the table, since
      // some of them take the table's row type.
      for (const use of uses) {
        if (use.phase !== 'after') continue
        const dependency = resolve(use)
        if (dependency && dependency.kind !== 'table') visit(dependency, true)
      }
    }
  }

  const collect = (table: TableInfo): Set<string> => {
    const keys = new Set<string>()
    const walk = (kind: ObjectKind, oid: number, phaseFilter: boolean) => {
      for (const use of catalog.uses(kind, oid)) {
        if (phaseFilter && use.phase === 'after') continue
        const dependency = resolve(use)
        if (!dependency || dependency.kind === 'table' || keys.has(dependency.key)) continue
        keys.add(dependency.key)
        if (dependency.kind !== 'extension') walk(dependency.kind, oidOf(dependency), false)
      }
    }
    walk('table', table.oid, true)
    return keys
  }

  for (const table of tables) {
    visit({ kind: 'table', key: objectKey('table', table.oid), info: table }, true)
    prerequisites.set(table.oid, collect(table))
  }
  for (const table of alsoNeededBy) {
    if (created.has(table.oid)) continue
    visit({ kind: 'table', key: objectKey('table', table.oid), info: table }, false)
    prerequisites.set(table.oid, collect(table))
  }
  for (const sequence of sequences)
    visit({ kind: 'sequence', key: objectKey('sequence', sequence.oid), info: sequence }, true)
  return { objects, prerequisites }
}
