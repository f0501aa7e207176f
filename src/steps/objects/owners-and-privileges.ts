import { reasonOf } from '../../db/sql-state-advice.js'
import type pg from 'pg'
import type { Catalog } from '../../catalog/catalog.js'
import { creationOrder } from '../../catalog/creation-order.js'
import type { Config } from '../../config/schema.js'
import {
  type Grant,
  type OwnedObject,
  describeOwned,
  readOwnedObjects,
} from '../../catalog/objects/owned-objects.js'
import { type Database, READ_ONLY_SNAPSHOT, isConnectionLost } from '../../db/database.js'
import { TableRef, quoteIdent } from '../../db/table-ref.js'
import { TablehaulError } from '../../errors.js'
import type { RunPlan } from '../plan/planner.js'
import { copiedSchemas, readTextSearchUsedByTables } from './all-objects.js'
import type { ObjectOutcome } from './object-builder.js'

/** tablehaul's own records on the target: never handed to another role, whatever the source says. */
const OWN_SCHEMA = 'tablehaul'

/**
 * The privilege words `aclexplode` gives. They come from the source and end up in GRANT statements, so
 * only these are accepted; anything else fails its object.
 */
const PRIVILEGES = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'TRUNCATE',
  'REFERENCES',
  'TRIGGER',
  'MAINTAIN',
  'EXECUTE',
  'USAGE',
  'CREATE',
])

/** One source object in scope, with the name it has on the target. */
interface ScopedObject {
  readonly source: OwnedObject
  /** Relations may be copied under another name (`into:`); everything else keeps its name. */
  readonly targetKey: string
  /** What names it in ALTER and GRANT on the target. */
  readonly targetIdentity: string
}

/**
 * `owners: keep` and `privileges: keep`: which objects of the run get their source owner and privileges,
 * which roles that needs on the target, and, once everything else of the run is done, the statements that
 * make the target's owners and privileges the source's.
 *
 * In scope: the schemas of the copied tables (not `public`, whose owner and privileges are the target
 * database's own, as pg_dump leaves them, nor tablehaul's own), the copied tables and the partitioned
 * tables above them, their sequences and those a pattern selects, the views and materialized views the run
 * creates; the types and routines the copied
 * tables need (what the schema step brings); with `objects: all` every type, domain, routine, operator,
 * operator class and family of those schemas, and the database's large objects.
 */
export class OwnersAndPrivileges {
  private constructor(
    private readonly keep: { readonly owners: boolean; readonly privileges: boolean },
    private readonly objects: readonly ScopedObject[],
    private readonly targetSchemas: readonly string[],
    private readonly largeObjects: boolean,
  ) {}

  /** Reads the source's owners and privileges for the plan (in the run's snapshot); undefined when neither is kept. */
  static async read(
    config: Pick<Config, 'owners' | 'privileges' | 'objects'>,
    plan: RunPlan,
    sourceClient: pg.ClientBase,
    sourceCatalog: Catalog,
    views: readonly TableRef[],
  ): Promise<OwnersAndPrivileges | undefined> {
    const keep = { owners: config.owners === 'keep', privileges: config.privileges === 'keep' }
    if (!keep.owners && !keep.privileges) return undefined
    const all = config.objects === 'all'
    // With objects: tables, the types and routines the run brings are those the tables need, wherever they are.
    const used = all ? undefined : await usedByTables(sourceCatalog, plan, sourceClient)
    const schemas = [...new Set([...copiedSchemas(plan), ...(used?.schemas ?? [])])]
      .filter((s) => s !== OWN_SCHEMA)
      .sort()
    const renamed = new Map<string, TableRef>()
    for (const table of plan.tables) {
      if (table.source.kind === 'table') renamed.set(table.source.table.ref.key, table.target)
    }
    for (const table of plan.emptyPartitioned) renamed.set(table.ref.key, table.ref)
    // The relations the run brings besides its tables: their sequences, the sequences a pattern selects,
    // and the views it creates.
    const brought = new Set<string>([
      ...plan.sequences.map((sequence) => sequence.ref.key),
      ...plan.tables.flatMap((t) =>
        t.source.kind === 'table' ? sourceCatalog.ownedSequences(t.source.table).map((q) => q.ref.key) : [],
      ),
      ...views.map((view) => view.key),
    ])
    const objects: ScopedObject[] = []
    for (const object of await readOwnedObjects(sourceClient, schemas, { largeObjects: all })) {
      const scoped = scope(object, { renamed, brought }, all || used!.oids.has(object.oid))
      if (scoped) objects.push(scoped)
    }
    const targetSchemas = [
      ...new Set([...schemas, ...[...renamed.values()].map((ref) => ref.schema)]),
    ].filter((s) => s !== OWN_SCHEMA)
    return new OwnersAndPrivileges(keep, objects, targetSchemas, all)
  }

  /** What `plan` shows: which options, how many objects they cover, and the roles they name. */
  describe(): { owners: boolean; privileges: boolean; objects: number; roles: string[] } {
    return {
      ...this.keep,
      objects: this.objects.length,
      roles: [...this.rolesNeeded().keys()].sort(),
    }
  }

  /** The roles the target must have, each with the objects that need it. */
  rolesNeeded(): Map<string, string[]> {
    const needed = new Map<string, string[]>()
    const need = (role: string, object: OwnedObject) => {
      let list = needed.get(role)
      if (!list) needed.set(role, (list = []))
      list.push(describeOwned(object))
    }
    for (const { source } of this.objects) {
      if (this.keep.owners && !source.linked) need(source.owner, source)
      if (!this.keep.privileges) continue
      for (const [grantor, grantee] of allGrants(source)) {
        // The owner's own grants follow whoever owns the object on the target.
        for (const role of [grantor, grantee]) {
          if (role !== null && (this.keep.owners || role !== source.owner)) need(role, source)
        }
      }
    }
    for (const list of needed.values()) list.splice(0, list.length, ...new Set(list))
    return needed
  }

  /**
   * Before any data moves: every role the kept owners and privileges name must exist on the target, or the
   * run stops here with one error naming them all.
   */
  async checkRoles(target: pg.ClientBase): Promise<void> {
    const needed = this.rolesNeeded()
    if (needed.size === 0) return
    const { rows } = await target.query<{ rolname: string }>(
      'SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY ($1::text[])',
      [[...needed.keys()]],
    )
    const present = new Set(rows.map((r) => r.rolname))
    const missing = [...needed].filter(([role]) => !present.has(role)).sort(([a], [b]) => a.localeCompare(b))
    if (missing.length === 0) return
    const options = [
      ...(this.keep.owners ? ['owners: keep'] : []),
      ...(this.keep.privileges ? ['privileges: keep'] : []),
    ]
    const described = missing.map(([role, objects]) => {
      const shown = objects.slice(0, 3).join(', ')
      return `${quoteIdent(role)} (${shown}${objects.length > 3 ? ` and ${objects.length - 3} more` : ''})`
    })
    throw new TablehaulError(
      'ROLE_MISSING',
      `${options.join(' and ')} need${options.length > 1 ? '' : 's'} ${missing.length === 1 ? 'a role' : `${missing.length} roles`} the target does not have: ${described.join('; ')}; nothing was copied`,
      {
        hint: `create ${missing.length === 1 ? 'it' : 'them'} on the target (${missing.map(([role]) => `CREATE ROLE ${quoteIdent(role)} NOLOGIN`).join('; ')}), or turn the option off (${[
          ...(this.keep.owners ? ['owners: ignore / --owners ignore'] : []),
          ...(this.keep.privileges ? ['privileges: ignore / --privileges ignore'] : []),
        ].join(', ')})`,
      },
    )
  }

  /**
   * Makes the target's privileges, then its owners, the source's, for the objects in scope that the target
   * has. Privileges first, while the run's user still owns what it created; owners last of all, as the
   * run's final writes to anything but its own records: once an object belongs to another role, that role
   * controls it. Each object's statements run under their own savepoint, so one that fails fails alone.
   */
  async apply(targetDb: Database, signal?: AbortSignal): Promise<ObjectOutcome[]> {
    const onTarget = await targetDb.withTransaction(
      async (client) => {
        const objects = await readOwnedObjects(client, this.targetSchemas, {
          largeObjects: this.largeObjects,
        })
        return new Map(objects.map((o) => [keyOf(o.kind, o.schema, o.name), o]))
      },
      { mode: READ_ONLY_SNAPSHOT, signal },
    )
    const present = this.objects
      .map((object) => ({ object, there: onTarget.get(object.targetKey) }))
      .filter((pair): pair is { object: ScopedObject; there: OwnedObject } => pair.there !== undefined)
    const outcomes: ObjectOutcome[] = []
    await targetDb.withTransaction(
      async (client) => {
        if (this.keep.privileges) {
          for (const { object, there } of present) {
            signal?.throwIfAborted()
            const outcome = await this.applyOne(targetDb, client, object, 'privileges', () =>
              privilegeStatements(object, there),
            )
            if (outcome) outcomes.push(outcome)
          }
        }
        if (this.keep.owners) {
          // Schemas first: a new owner needs CREATE on the schema of what it is given.
          const ordered = [...present].sort(
            (a, b) => Number(b.object.source.kind === 'schema') - Number(a.object.source.kind === 'schema'),
          )
          for (const { object, there } of ordered) {
            signal?.throwIfAborted()
            const outcome = await this.applyOne(targetDb, client, object, 'owner', () =>
              object.source.linked || there.owner === object.source.owner
                ? []
                : [
                    `ALTER ${alterWords(object.source)} ${object.targetIdentity} OWNER TO ${quoteIdent(object.source.owner)}`,
                  ],
            )
            if (outcome) outcomes.push(outcome)
          }
        }
      },
      { signal },
    )
    return outcomes
  }

  private async applyOne(
    targetDb: Database,
    client: pg.ClientBase,
    object: ScopedObject,
    what: 'owner' | 'privileges',
    statements: () => string[],
  ): Promise<ObjectOutcome | undefined> {
    const identity = `${what === 'owner' ? 'owner of' : 'privileges on'} ${object.source.kind} ${object.targetIdentity}`
    try {
      const list = statements()
      if (list.length === 0) return undefined
      await targetDb.withSavepoint(client, 'tablehaul_owner', async () => {
        for (const statement of list) await client.query(statement)
      })
      return { kind: what, identity, status: 'replaced' }
    } catch (error) {
      if (isConnectionLost(error)) throw error
      return { kind: what, identity, status: 'failed', reason: reasonOf(error, 'target') }
    }
  }
}

/**
 * The types, routines, collations and text search objects the copied tables need (what the run creates for
 * them), by OID, and their schemas.
 */
async function usedByTables(
  catalog: Catalog,
  plan: RunPlan,
  sourceClient: pg.ClientBase,
): Promise<{ oids: Set<number>; schemas: string[] }> {
  const tables = [
    ...plan.tables.flatMap((t) => (t.source.kind === 'table' ? [t.source.table] : [])),
    ...plan.emptyPartitioned,
  ]
  const oids = new Set<number>()
  const schemas = new Set<string>()
  for (const object of creationOrder(catalog, tables, [], plan.sequences).objects) {
    if (object.kind !== 'type' && object.kind !== 'function' && object.kind !== 'collation') continue
    oids.add(object.info.oid)
    schemas.add(object.info.ref.schema)
  }
  // The text search objects the tables name, made before them (AllObjectsBuilder.readUsedByTables).
  const textSearch = await readTextSearchUsedByTables(sourceClient, plan)
  for (const object of textSearch.objects) oids.add(Number(object.address.split(':')[1]))
  for (const schema of textSearch.schemas) schemas.add(schema)
  return { oids, schemas: [...schemas] }
}

/**
 * The source object with its target name, or undefined when the run does not bring it. `brought`: for a
 * type or routine, whether the run brings it (objects: all, or a copied table needs it).
 */
function scope(
  object: OwnedObject,
  relations: { readonly renamed: Map<string, TableRef>; readonly brought: Set<string> },
  brought: boolean,
): ScopedObject | undefined {
  const { renamed } = relations
  const same = { source: object, targetKey: keyOf(object.kind, object.schema, object.name) }
  switch (object.kind) {
    case 'schema':
      return object.name === 'public' || object.name === OWN_SCHEMA
        ? undefined
        : { ...same, targetIdentity: quoteIdent(object.name) }
    case 'table':
    case 'partitioned table': {
      // A partitioned table is copied through its partitions; it is brought when the target has it.
      const target =
        renamed.get(new TableRef(object.schema!, object.name).key) ??
        (object.kind === 'partitioned table' ? new TableRef(object.schema!, object.name) : undefined)
      if (!target || target.schema === OWN_SCHEMA) return undefined
      return {
        source: object,
        targetKey: keyOf(object.kind, target.schema, target.name),
        targetIdentity: target.sql,
      }
    }
    case 'sequence':
    case 'view':
    case 'materialized view': {
      const ref = new TableRef(object.schema!, object.name)
      return relations.brought.has(ref.key) ? { ...same, targetIdentity: ref.sql } : undefined
    }
    default:
      return brought ? { ...same, targetIdentity: object.identity } : undefined
  }
}

function keyOf(kind: string, schema: string | null, name: string): string {
  return JSON.stringify([kind, schema, name])
}

/** Every grant of an object, its columns' included. */
function allGrants(object: OwnedObject): Grant[] {
  return [...(object.acl ?? []), ...Object.values(object.columns ?? {}).flatMap((list) => list ?? [])]
}

/** What follows ALTER to change its owner. */
function alterWords(object: OwnedObject): string {
  switch (object.kind) {
    case 'partitioned table':
      return 'TABLE'
    case 'table':
    case 'schema':
    case 'sequence':
    case 'view':
    case 'materialized view':
    case 'type':
    case 'domain':
    case 'function':
    case 'procedure':
    case 'aggregate':
    case 'operator':
    case 'operator class':
    case 'operator family':
    case 'collation':
    case 'text search configuration':
    case 'text search dictionary':
    case 'large object':
      return object.kind.toUpperCase()
  }
}

/** What follows GRANT … ON; undefined for kinds without privileges. */
function grantWords(object: OwnedObject): string | undefined {
  switch (object.kind) {
    case 'table':
    case 'partitioned table':
    case 'view':
    case 'materialized view':
      return 'TABLE'
    case 'aggregate':
      return 'FUNCTION'
    case 'operator':
    case 'operator class':
    case 'operator family':
    case 'collation':
    case 'text search configuration':
    case 'text search dictionary':
      return undefined
    default:
      return object.kind.toUpperCase()
  }
}

/**
 * GRANT and REVOKE statements that turn the target's privileges into the source's. The source's owner is
 * read as the target's current owner: an ALTER … OWNER TO afterwards hands the owner's grants on, as
 * PostgreSQL does. A list that already matches gets no statement; one that differs is revoked from every
 * grantee the target has and granted again as the source has it, grants by the owner first, then those
 * another role made (as that role).
 */
function privilegeStatements(object: ScopedObject, there: OwnedObject): string[] {
  const on = grantWords(object.source)
  if (!on) return []
  const target = `${on} ${object.targetIdentity}`
  const asOwner = (role: string | null) => (role === object.source.owner ? there.owner : role)
  const map = (grants: readonly Grant[] | null): Grant[] =>
    (grants ?? []).map(([grantor, grantee, privilege, grantable]) => [
      asOwner(grantor)!,
      asOwner(grantee),
      privilege,
      grantable,
    ])
  const statements = aclStatements(map(object.source.acl), there.acl ?? [], there.owner, (privileges) => [
    privileges,
    target,
  ])
  const columns = new Set([...Object.keys(object.source.columns ?? {}), ...Object.keys(there.columns ?? {})])
  for (const column of [...columns].sort()) {
    statements.push(
      ...aclStatements(
        map(object.source.columns?.[column] ?? null),
        there.columns?.[column] ?? [],
        there.owner,
        (privileges) => [
          privileges
            .split(', ')
            .map((privilege) => `${privilege} (${quoteIdent(column)})`)
            .join(', '),
          `TABLE ${object.targetIdentity}`,
        ],
      ),
    )
  }
  return statements
}

function aclStatements(
  desired: readonly Grant[],
  current: readonly Grant[],
  owner: string,
  clause: (privileges: string) => [privileges: string, on: string],
): string[] {
  const key = (g: Grant) => JSON.stringify(g)
  const wanted = new Set(desired.map(key))
  const have = new Set(current.map(key))
  if (wanted.size === have.size && [...wanted].every((k) => have.has(k))) return []
  const role = (name: string | null) => (name === null ? 'PUBLIC' : quoteIdent(name))
  const statements: string[] = []
  for (const grantee of new Set(current.map(([, grantee]) => grantee))) {
    const [privileges, on] = clause('ALL')
    statements.push(`REVOKE ${privileges} ON ${on} FROM ${role(grantee)} CASCADE`)
  }
  const groups = new Map<
    string,
    { grantor: string; grantee: string | null; grantable: boolean; privileges: string[] }
  >()
  for (const [grantor, grantee, privilege, grantable] of desired) {
    if (!PRIVILEGES.has(privilege))
      throw new Error(`unknown privilege ${JSON.stringify(privilege)} in the source's ACL`)
    const groupKey = JSON.stringify([grantor, grantee, grantable])
    let group = groups.get(groupKey)
    if (!group) groups.set(groupKey, (group = { grantor, grantee, grantable, privileges: [] }))
    group.privileges.push(privilege)
  }
  const ordered = [...groups.values()].sort(
    (a, b) => Number(b.grantor === owner) - Number(a.grantor === owner),
  )
  for (const group of ordered) {
    const [privileges, on] = clause(group.privileges.join(', '))
    const grant = `GRANT ${privileges} ON ${on} TO ${role(group.grantee)}${group.grantable ? ' WITH GRANT OPTION' : ''}`
    // A grant another role made is made as that role, so that it stays that role's to revoke.
    if (group.grantor === owner) statements.push(grant)
    else statements.push(`SET ROLE ${quoteIdent(group.grantor)}`, grant, 'RESET ROLE')
  }
  return statements
}
