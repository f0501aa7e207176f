import { reasonOf } from '../../db/sql-state-advice.js'
import type pg from 'pg'
import { type DumpObject, type DumpObjectKind, readDumpObjects } from '../../catalog/objects/dump-objects.js'
import { type Database, EMPTY_SEARCH_PATH, READ_ONLY_SNAPSHOT, isConnectionLost } from '../../db/database.js'
import { quoteLiteral } from '../../db/table-ref.js'
import { messageOf, sqlStateOf } from '../../errors.js'

/**
 * What became of one object. created: it was missing; replaced: it differed and was made the source's
 * (CREATE OR REPLACE, or for a view DROP and CREATE); unchanged: the target had it already with the same
 * definition; different: the target has it with another definition that PostgreSQL cannot replace in
 * place, and it was left as it is; skipped: a view that waits for a relation or function the target will
 * not have (`reason` names them); failed: it could not be created (`reason` says why).
 */
export interface ObjectOutcome {
  readonly kind: DumpObjectKind | 'large object' | 'view' | 'materialized view' | 'owner' | 'privileges'
  /** `FUNCTION sales.total(integer)`, `TYPE sales.mood`, `EXTENSION pgcrypto`, `VIEW sales.totals`. */
  readonly identity: string
  readonly status: 'created' | 'replaced' | 'unchanged' | 'different' | 'skipped' | 'failed'
  readonly reason?: string | undefined
}

/** What the target has: its objects by identity, the extensions it could install, its version. */
export interface TargetObjects {
  readonly objects: ReadonlyMap<string, DumpObject>
  readonly available: ReadonlySet<string>
  readonly version: number
}

export interface ObjectBuilderOptions {
  readonly targetDb: Database
  readonly signal?: AbortSignal | undefined
}

/**
 * The `objects` part of the schema step with `objects: all`: creates on the target, in dependency order,
 * the functions, procedures, aggregates, types, domains, casts, extensions, collations and text search
 * objects of the copied tables' schemas, each under its own savepoint so that one that cannot be created fails alone (as do those that
 * need it), with the server's reason.
 */
export class ObjectBuilder {
  /** Objects that could not be created so far (by address, with their identity), over every `build`. */
  private readonly failed = new Map<string, string>()

  constructor(private readonly options: ObjectBuilderOptions) {}

  /**
   * Creates `objects` (in the order given) where the target lacks them. Called more than once (objects
   * that tables need before they can be created, then the rest), an object whose prerequisite failed in an
   * earlier call fails too.
   */
  async build(objects: readonly DumpObject[], schemas: readonly string[]): Promise<ObjectOutcome[]> {
    const { targetDb, signal } = this.options
    const existing = await this.readTarget(schemas)
    const outcomes: ObjectOutcome[] = []
    const failed = this.failed
    // Function bodies are checked when called, not when created, as pg_dump restores them: a body may use
    // an object that comes later in the order, or a table of a schema this run does not copy.
    await targetDb.withTransaction(
      async (client) => {
        for (const object of objects) {
          signal?.throwIfAborted()
          const outcome = await this.buildOne(client, object, existing, failed)
          if (outcome.status === 'failed') failed.set(object.address, object.identity)
          outcomes.push(outcome)
        }
      },
      // A domain's check, a default or a BEGIN ATOMIC body is bound when created (EMPTY_SEARCH_PATH).
      { settings: ['check_function_bodies = false', EMPTY_SEARCH_PATH], signal },
    )
    return outcomes
  }

  /** What the target has of the objects of `schemas` (and its access methods), the extensions it could install, its version. */
  async readTarget(schemas: readonly string[]): Promise<TargetObjects> {
    const { targetDb, signal } = this.options
    return targetDb.withTransaction(
      async (client) => ({
        objects: new Map((await readDumpObjects(client, schemas)).map((o) => [o.identity, o])),
        available: new Set(
          (
            await client.query<{ name: string }>('SELECT name FROM pg_catalog.pg_available_extensions')
          ).rows.map((r) => r.name),
        ),
        version: Number(
          (await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v,
        ),
      }),
      { mode: READ_ONLY_SNAPSHOT, signal },
    )
  }

  /**
   * Creates one object on `client` (inside a transaction, under a savepoint of its own) unless the target
   * has it the same; `failed` holds the addresses of those that failed so far (with their identities),
   * which fail the objects that need them.
   */
  async buildOne(
    client: pg.ClientBase,
    object: DumpObject,
    existing: TargetObjects,
    failed: ReadonlyMap<string, string>,
  ): Promise<ObjectOutcome> {
    const outcome = (status: ObjectOutcome['status'], reason?: string): ObjectOutcome => ({
      kind: object.kind,
      identity: object.identity,
      status,
      reason,
    })
    const missing = object.needs.map((address) => failed.get(address)).filter((n) => n !== undefined)
    if (missing.length > 0)
      return outcome('failed', `it needs ${missing.join(', ')}, which could not be created`)
    const there = existing.objects.get(object.identity)
    if (object.kind === 'extension' && !there && !existing.available.has(object.extension!)) {
      return outcome(
        'failed',
        `extension ${object.extension} is not available on the target (its files are not installed there): install the package that provides it on the target's server, then run again`,
      )
    }
    if (!there && object.needsVersion && existing.version < object.needsVersion.version) {
      const { feature, version } = object.needsVersion
      return outcome(
        'failed',
        `${feature} needs PostgreSQL ${Math.floor(version / 10000)} (the target runs ${Math.floor(existing.version / 10000)})`,
      )
    }
    if (object.problem !== undefined && !there) return outcome('failed', object.problem)
    if (!there) {
      const absent = await this.absentSupportFunction(client, object)
      if (absent) return outcome('failed', absent)
    }
    let status: ObjectOutcome['status']
    if (!there) status = 'created'
    else if (
      there.definition === object.definition ||
      // A domain a copied table uses gets its NOT VALID checks only after the data (COPY would check its
      // old rows): until then the target's is the source's without them.
      (object.kind === 'domain' && there.definition === withoutNotValidChecks(object.definition)) ||
      // A range type from a source before PostgreSQL 14 has no multirange; the target made one with it.
      (object.kind === 'type' &&
        withoutMultirange(there.definition, object.definition) === object.definition) ||
      object.kind === 'extension' ||
      (object.kind === 'collation' && (await this.sameCollationOnTarget(client, object, there)))
    )
      status = 'unchanged'
    // pg_get_functiondef writes CREATE OR REPLACE: PostgreSQL replaces a routine in place (same arguments
    // and result type); no other kind here has an OR REPLACE form.
    else if (object.kind === 'function' || object.kind === 'procedure') status = 'replaced'
    else
      return outcome(
        'different',
        'it exists on the target with a different definition and was left as it is (drop it there to get the source’s)',
      )
    try {
      await this.options.targetDb.withSavepoint(client, 'tablehaul_object', async () => {
        if (status !== 'unchanged') await client.query(object.definition)
        if ((there?.comment ?? null) !== object.comment || status !== 'unchanged') {
          if (object.comment !== null || there?.comment)
            await client.query(
              `COMMENT ON ${object.identity} IS ${object.comment === null ? 'NULL' : quoteLiteral(object.comment)}`,
            )
        }
      })
    } catch (error) {
      if (isConnectionLost(error)) throw error
      return outcome('failed', `${reasonOf(error, 'target')}${nextStep(object, error)}`)
    }
    return outcome(status)
  }

  /**
   * Whether the target's collation is the source's though it prints otherwise: from PostgreSQL 16 an ICU
   * locale is stored in its standard form (`de_DE` becomes `de-DE`, `und@colStrength=secondary`
   * `und-u-ks-level2`), so one made from an older source's definition differs from it in text. The source's
   * definition is made a temporary collation on the target and printed there, then rolled back.
   */
  private async sameCollationOnTarget(
    client: pg.ClientBase,
    object: DumpObject,
    there: DumpObject,
  ): Promise<boolean> {
    const options = (o: DumpObject) => o.definition.slice(`CREATE ${o.identity}`.length)
    return this.options.targetDb
      .withSavepoint(client, 'tablehaul_collation_probe', async () => {
        await client.query(`CREATE COLLATION pg_temp.tablehaul_collation_probe${options(object)}`)
        const { rows } = await client.query<{ schema: string }>(
          'SELECT nspname AS schema FROM pg_catalog.pg_namespace WHERE oid = pg_catalog.pg_my_temp_schema()',
        )
        const probe = (await readDumpObjects(client, [rows[0]!.schema])).find((o) => o.kind === 'collation')
        // Rolled back whatever it found: the temporary collation goes with the savepoint.
        throw new ProbeResult(probe !== undefined && options(probe) === options(there))
      })
      .catch((error: unknown) => {
        if (error instanceof ProbeResult) return error.same
        if (isConnectionLost(error)) throw error
        return false
      })
  }

  /**
   * Why a text search parser or template cannot be made: CREATE TEXT SEARCH PARSER / TEMPLATE takes
   * functions that must exist already, and they are written in C (in the server, or in a library of the
   * source's server, which the target's may lack). Those of the copied schemas were made (or failed)
   * before it, in dependency order; the others must be on the target.
   */
  private async absentSupportFunction(
    client: pg.ClientBase,
    object: DumpObject,
  ): Promise<string | undefined> {
    for (const fn of object.supportFunctions ?? []) {
      // Before 16, to_regprocedure raises an error (rather than giving NULL) for a type or schema that does not exist.
      const found = await this.options.targetDb
        .withSavepoint(client, 'tablehaul_support_function', async () => {
          const { rows } = await client.query<{ found: boolean }>(
            'SELECT pg_catalog.to_regprocedure($1) IS NOT NULL AS found',
            [fn.signature],
          )
          return rows[0]!.found
        })
        .catch((error: unknown) => {
          if (isConnectionLost(error)) throw error
          return false
        })
      if (found) continue
      const what =
        fn.language === 'c'
          ? `written in C, in the library ${fn.library ?? '(unknown)'} of the source's server`
          : fn.language === 'internal'
            ? `built into the source's server`
            : `written in ${fn.language}`
      return `it is made of the function ${fn.signature} (${what}), which the target does not have: install or create that function on the target (for a C function, the package or extension that provides its library), then run again`
    }
    return undefined
  }
}

/**
 * What to do about an object the target refused, where the server's message does not say: a libc
 * collation's locale comes from the operating system (newlocale), which PostgreSQL cannot install.
 */
function nextStep(object: DumpObject, error: unknown): string {
  if (
    object.kind === 'collation' &&
    sqlStateOf(error) === '22023' &&
    /could not create locale/.test(messageOf(error))
  )
    return `; the target's operating system lacks that locale: install it there (its locale data, e.g. with locale-gen), then run again`
  return ''
}

/** How a probe that is always rolled back gives its answer. */
class ProbeResult extends Error {
  constructor(readonly same: boolean) {
    super('probe result')
  }
}

/**
 * The report's words for an object that did not arrive as the source has it (failed, different, skipped),
 * or nothing.
 */
export function objectNote(outcome: ObjectOutcome): string | undefined {
  if (outcome.status === 'failed' || outcome.status === 'skipped')
    return `${outcome.identity} ${outcome.kind === 'owner' || outcome.kind === 'privileges' ? 'could not be made the source’s' : 'was not created'}: ${outcome.reason}`
  if (outcome.status === 'different') return `${outcome.identity} was not replaced: ${outcome.reason}`
  return undefined
}

/** One line that counts the outcomes: `objects: 12 created, 3 unchanged, 1 failed`. */
export function objectSummary(outcomes: readonly ObjectOutcome[]): string {
  const counts = new Map<string, number>()
  for (const o of outcomes) counts.set(o.status, (counts.get(o.status) ?? 0) + 1)
  const parts = ['created', 'replaced', 'unchanged', 'different', 'failed']
    .filter((s) => counts.has(s))
    .map((s) => `${counts.get(s)} ${s}`)
  return `objects: all: ${outcomes.length} object(s) of the copied tables' schemas${parts.length ? ` (${parts.join(', ')})` : ''}`
}

/** A domain's definition up to its NOT VALID checks, which list_dump_objects.sql adds after CREATE DOMAIN. */
function withoutNotValidChecks(definition: string): string {
  const at = definition.indexOf(';\nALTER DOMAIN ')
  return at < 0 ? definition : definition.slice(0, at)
}

/** A range type's definition without the MULTIRANGE_TYPE_NAME that `source`'s (before 14) lacks. */
function withoutMultirange(definition: string, source: string): string {
  const marker = ', MULTIRANGE_TYPE_NAME = '
  const at = definition.lastIndexOf(marker)
  if (at < 0 || source.includes(marker) || !definition.includes(' AS RANGE (')) return definition
  return `${definition.slice(0, at)})`
}
