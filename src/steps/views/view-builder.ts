import { reasonOf } from '../../db/sql-state-advice.js'
import type pg from 'pg'
import type { Ddl } from '../../catalog/ddl.js'
import { type ViewInfo, readDependents, readViews } from '../../catalog/views.js'
import { type Database, EMPTY_SEARCH_PATH, isConnectionLost } from '../../db/database.js'
import { quoteIdent, quoteLiteral } from '../../db/table-ref.js'
import type { ObjectOutcome } from '../objects/object-builder.js'
import { type ViewPlan, sameView } from './view-plan.js'

/**
 * Views created or replaced per target transaction. Each CREATE VIEW (and DROP, REFRESH, CREATE INDEX)
 * keeps its lock on the view until the transaction ends, and the server's lock table holds
 * max_locks_per_transaction × (max_connections + max_prepared_transactions) locks in all: thousands of views
 * in one transaction failed with 'out of shared memory' (53200), as foreign keys did (see foreign-keys.ts).
 */
const VIEWS_PER_TRANSACTION = 50

export interface ViewBuilderOptions {
  readonly targetDb: Database
  /** The source's DDL: a view's schema the target lacks is created as the source has it (comment too). */
  readonly ddl: Ddl
  /** server_version_num of the target: security_invoker needs 15. */
  readonly targetVersion: number
  readonly signal?: AbortSignal | undefined
}

/**
 * The `views` step, after every table's data and keys: creates (or replaces) the run's views and
 * materialized views on the target in dependency order, with their options, column defaults, comments and
 * a materialized view's indexes, and refreshes a materialized view the source holds populated (one the
 * source has not refreshed is left unpopulated). Fifty views per target transaction (VIEWS_PER_TRANSACTION),
 * each view under its own savepoint: one that cannot be created fails alone, with the server's reason, and
 * so do the views on it.
 *
 * A view on the target whose definition differs is made the source's: CREATE OR REPLACE VIEW where
 * PostgreSQL can do it in place (same columns, maybe more at the end), else DROP and CREATE. A
 * materialized view has no OR REPLACE: it is dropped and created. Views the target has on the one dropped
 * are dropped with it only when this run creates them again; any other object on it (a view the source
 * lacks, a rule, a function) fails the view instead, and the target keeps both as they were.
 */
export class ViewBuilder {
  constructor(private readonly options: ViewBuilderOptions) {}

  async build(plans: readonly ViewPlan[]): Promise<ObjectOutcome[]> {
    const { targetDb, signal } = this.options
    if (plans.length === 0) return []
    const state: BuildState = {
      existing: new Map((await targetDb.withTransaction(readViews, { signal })).map((v) => [v.ref.key, v])),
      creatable: new Set(plans.filter((p) => p.waitsFor.length === 0).map((p) => p.view.ref.key)),
      failed: new Map(),
      done: new Set(),
      queue: [...plans],
      plans: new Map(plans.map((p) => [p.view.ref.key, p])),
      dropped: new Set(),
    }
    const outcomes = new Map<string, ObjectOutcome>()
    while (state.queue.length > 0) {
      await targetDb.withTransaction(
        async (client) => {
          let built = 0
          for (let plan = state.queue.shift(); plan; plan = state.queue.shift()) {
            signal?.throwIfAborted()
            const outcome = await this.buildOne(client, plan, state)
            if (outcome.status === 'failed') state.failed.set(plan.view.ref.key, outcome.identity)
            state.done.add(plan.view.ref.key)
            state.dropped.delete(plan.view.ref.key)
            outcomes.set(plan.view.ref.key, outcome)
            // A view dropped to be created again (one on a view that only DROP and CREATE can change) is
            // created in the transaction that dropped it: a run stopped between two transactions leaves
            // every view as it was or as the source's, never missing.
            if (++built >= VIEWS_PER_TRANSACTION && state.dropped.size === 0) break
          }
        },
        // The source's definitions name pg_catalog's operators bare (EMPTY_SEARCH_PATH).
        { signal, settings: [EMPTY_SEARCH_PATH] },
      )
    }
    return [...outcomes.values()]
  }

  private async buildOne(client: pg.ClientBase, plan: ViewPlan, state: BuildState): Promise<ObjectOutcome> {
    const { view } = plan
    const identity = identityOf(view)
    const outcome = (status: ObjectOutcome['status'], reason?: string): ObjectOutcome => ({
      kind: view.kind,
      identity,
      status,
      reason,
    })
    if (plan.waitsFor.length > 0) return outcome('skipped', `it waits for ${plan.waitsFor.join(', ')}`)
    const needs = view.dependencies.flatMap((d) =>
      d.ref && state.failed.has(d.ref.key) ? [d.ref.display] : [],
    )
    if (needs.length > 0) return outcome('failed', `it reads ${needs.join(', ')}, which could not be created`)
    const unsupported = this.unsupportedOption(view)
    if (unsupported) return outcome('failed', unsupported)
    try {
      const status = await this.options.targetDb.withSavepoint(client, 'tablehaul_view', () =>
        this.createOrReplace(client, view, state),
      )
      return outcome(status)
    } catch (error) {
      if (isConnectionLost(error)) throw error
      return outcome('failed', reasonOf(error, 'target'))
    }
  }

  /** Why the target cannot have this view as the source has it, when it cannot. */
  private unsupportedOption(view: ViewInfo): string | undefined {
    const version = this.options.targetVersion
    if (version < 150000 && view.options.includes('security_invoker=true')) {
      return `it runs with its caller's rights (security_invoker), which the target's PostgreSQL ${Math.floor(version / 10000)} lacks (15 or later has it); created there it would run with its owner's: upgrade the target, or leave the view out with exclude:`
    }
    return undefined
  }

  /** Makes the target's view the source's; says whether it was created, replaced or already the same. */
  private async createOrReplace(
    client: pg.ClientBase,
    view: ViewInfo,
    state: BuildState,
  ): Promise<ObjectOutcome['status']> {
    const there = state.existing.get(view.ref.key)
    if (!there) await this.ensureSchema(client, view.ref.schema)
    let status: ObjectOutcome['status']
    let base: ViewInfo | undefined = there
    if (there && (await this.sameOnTarget(client, view, there))) status = 'unchanged'
    else if (!there) {
      await this.create(client, view)
      status = 'created'
    } else {
      status = 'replaced'
      const inPlace =
        view.kind === 'view' &&
        there.kind === 'view' &&
        (await this.options.targetDb
          .withSavepoint(client, 'tablehaul_view_replace', async () => {
            await execute(
              client,
              `CREATE OR REPLACE VIEW ${view.ref.sql}${withOptions(view, this.options.targetVersion)} AS ${query(view)}`,
            )
            // OR REPLACE keeps options the new statement does not name: those the source's lacks go.
            const gone = optionNames(there.options).filter(
              (name) => !optionNames(view.options).includes(name),
            )
            if (gone.length > 0)
              await execute(client, `ALTER VIEW ${view.ref.sql} RESET (${gone.map(quoteIdent).join(', ')})`)
            return true
          })
          .catch((error: unknown) => {
            // 42P16, 0A000: the columns changed in a way only DROP and CREATE can make.
            if (isConnectionLost(error)) throw error
            return false
          }))
      if (!inPlace) {
        await this.dropWithDependents(client, there, state)
        await this.create(client, view)
        base = undefined
      }
    }
    await this.settle(client, view, base)
    state.existing.set(view.ref.key, view)
    return status
  }

  /**
   * Whether the target's view is the source's. Each PostgreSQL version prints a query its own way: when the
   * texts differ (a source of another version), the source's query is made a temporary view on the target
   * and printed there, so a view that is the same is kept instead of replaced on every run.
   */
  private async sameOnTarget(client: pg.ClientBase, view: ViewInfo, there: ViewInfo): Promise<boolean> {
    if (sameView(view, there)) return true
    if (!sameView({ ...view, definition: there.definition }, there)) return false
    const probe = await this.options.targetDb
      .withSavepoint(client, 'tablehaul_view_probe', async () => {
        await execute(client, `CREATE TEMPORARY VIEW tablehaul_view_probe AS ${query(view)}`)
        const { rows } = await client.query<{ definition: string }>(
          `SELECT pg_catalog.set_config('search_path', '', true),
                  pg_catalog.pg_get_viewdef('pg_temp.tablehaul_view_probe'::pg_catalog.regclass, true) AS definition`,
        )
        // Rolled back whatever it found: the temporary view and the search path go with the savepoint.
        throw new ProbeResult(rows[0]?.definition === there.definition)
      })
      .catch((error: unknown) => {
        if (error instanceof ProbeResult) return error.same
        if (isConnectionLost(error)) throw error
        return false
      })
    return probe
  }

  /** A view may live in a schema without any table of the run: the schema step did not create it. */
  private async ensureSchema(client: pg.ClientBase, schema: string): Promise<void> {
    const { rows } = await client.query<{ found: boolean }>(
      'SELECT pg_catalog.to_regnamespace($1) IS NOT NULL AS found',
      [quoteIdent(schema)],
    )
    if (rows[0]?.found) return
    const { ddl } = this.options
    for (const statement of [ddl.createSchema(schema), ...ddl.schemaComment(schema)])
      await execute(client, statement)
  }

  private async create(client: pg.ClientBase, view: ViewInfo): Promise<void> {
    const options = withOptions(view, this.options.targetVersion)
    await execute(
      client,
      view.kind === 'view'
        ? `CREATE VIEW ${view.ref.sql}${options} AS ${query(view)}`
        : `CREATE MATERIALIZED VIEW ${view.ref.sql}${options} AS ${query(view)} WITH NO DATA`,
    )
  }

  /**
   * Drops the target's view and the views on it, deepest first, when this run creates each of those again
   * (they go back to the queue if their turn has passed); anything else on it fails the view.
   */
  private async dropWithDependents(client: pg.ClientBase, there: ViewInfo, state: BuildState): Promise<void> {
    const dependents = await readDependents(client, there.ref)
    const others = dependents.filter((d) => !state.creatable.has(d.ref.key) || d.kind === 'r')
    if (others.length > 0) {
      throw new Error(
        `it differs from the target's, which only DROP and CREATE can change, and the target has ${others.map((d) => d.ref.display).join(', ')} on it, which this run does not create: drop ${others.length === 1 ? 'it' : 'them'} on the target (or leave this view out with exclude:)`,
      )
    }
    for (const dependent of dependents) {
      await execute(
        client,
        `DROP ${dependent.kind === 'm' ? 'MATERIALIZED VIEW' : 'VIEW'} ${dependent.ref.sql}`,
      )
      state.existing.delete(dependent.ref.key)
      state.dropped.add(dependent.ref.key)
      if (state.done.has(dependent.ref.key)) {
        const plan = state.plans.get(dependent.ref.key)
        if (plan && !state.queue.includes(plan)) state.queue.push(plan)
      }
    }
    await execute(client, `DROP ${there.kind === 'view' ? 'VIEW' : 'MATERIALIZED VIEW'} ${there.ref.sql}`)
    state.existing.delete(there.ref.key)
  }

  /**
   * What surrounds the query: the comments, column defaults, a materialized view's indexes and its data.
   * `base` is what the target had that the last statement kept (nothing after a CREATE).
   */
  private async settle(client: pg.ClientBase, view: ViewInfo, base: ViewInfo | undefined): Promise<void> {
    const what = view.kind === 'view' ? 'VIEW' : 'MATERIALIZED VIEW'
    const comment = (text: string | null) => (text === null ? 'NULL' : quoteLiteral(text))
    if ((base?.comment ?? null) !== view.comment)
      await execute(client, `COMMENT ON ${what} ${view.ref.sql} IS ${comment(view.comment)}`)
    for (const column of view.columns) {
      const old = base?.columns.find((c) => c.name === column.name)
      const name = `${view.ref.sql}.${quoteIdent(column.name)}`
      if ((old?.comment ?? null) !== column.comment)
        await execute(client, `COMMENT ON COLUMN ${name} IS ${comment(column.comment)}`)
      if (view.kind === 'view' && (old?.default ?? null) !== column.default) {
        await execute(
          client,
          `ALTER VIEW ${view.ref.sql} ALTER COLUMN ${quoteIdent(column.name)} ${column.default === null ? 'DROP DEFAULT' : `SET DEFAULT ${column.default}`}`,
        )
      }
    }
    if (view.kind !== 'materialized view') return
    for (const index of view.indexes) {
      const old = base?.indexes.find((i) => i.name === index.name)
      const indexName = `${quoteIdent(view.ref.schema)}.${quoteIdent(index.name)}`
      if (old && old.definition !== index.definition) await execute(client, `DROP INDEX ${indexName}`)
      if (!old || old.definition !== index.definition) await execute(client, index.definition)
      if ((old?.comment ?? null) !== index.comment || (old && old.definition !== index.definition))
        await execute(client, `COMMENT ON INDEX ${indexName} IS ${comment(index.comment)}`)
      if (index.clustered && !old?.clustered)
        await execute(client, `ALTER MATERIALIZED VIEW ${view.ref.sql} CLUSTER ON ${quoteIdent(index.name)}`)
    }
    // Refreshed from the tables this run copied: the rows a refresh on the source would give at the snapshot.
    if (view.populated) await execute(client, `REFRESH MATERIALIZED VIEW ${view.ref.sql}`)
    else if (base?.populated) await execute(client, `REFRESH MATERIALIZED VIEW ${view.ref.sql} WITH NO DATA`)
  }
}

/** What the probe of a definition found, thrown to roll its savepoint back. */
class ProbeResult extends Error {
  constructor(readonly same: boolean) {
    super('probe')
  }
}

interface BuildState {
  /** The target's views as they are now, by key. */
  readonly existing: Map<string, ViewInfo>
  /** Keys of the views this run creates (those that wait for nothing). */
  readonly creatable: ReadonlySet<string>
  /** Keys of the views that failed, with their identity. */
  readonly failed: Map<string, string>
  /** Keys of the views whose turn has come. */
  readonly done: Set<string>
  readonly queue: ViewPlan[]
  readonly plans: ReadonlyMap<string, ViewPlan>
  /** Keys of the views on the target that this transaction dropped and has not created again yet. */
  readonly dropped: Set<string>
}

/** `VIEW sales.totals`, `MATERIALIZED VIEW sales.daily`: what names it in the report. */
export function identityOf(view: ViewInfo): string {
  return `${view.kind === 'view' ? 'VIEW' : 'MATERIALIZED VIEW'} ${view.ref.display}`
}

/** The query without the semicolon pg_get_viewdef ends it with. */
function query(view: ViewInfo): string {
  return view.definition.trim().replace(/;$/, '')
}

function optionNames(options: readonly string[]): string[] {
  return options.map((option) => option.slice(0, option.indexOf('=')))
}

/**
 * ` WITH (security_barrier = 'true', check_option = 'local')`, or nothing. An option's name is a plain
 * word from pg_class.reloptions; one that is not is refused rather than written into a statement.
 */
function withOptions(view: ViewInfo, targetVersion: number): string {
  const options = view.options
    .map((option) => ({
      name: option.slice(0, option.indexOf('=')),
      value: option.slice(option.indexOf('=') + 1),
    }))
    // security_invoker=false is what a view without the option does; before 15 the option does not exist.
    .filter((o) => !(o.name === 'security_invoker' && o.value === 'false' && targetVersion < 150000))
  if (options.length === 0) return ''
  for (const { name } of options) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name))
      throw new Error(`it has an option named ${JSON.stringify(name)}, which is not a plain option name`)
  }
  return ` WITH (${options.map((o) => `${o.name} = ${quoteLiteral(o.value)}`).join(', ')})`
}

/**
 * One statement built from the source's catalog, sent with the extended protocol: it carries exactly one
 * statement, so a definition crafted to end the statement and start another (a hostile source) is refused
 * by the target instead of run.
 */
async function execute(client: pg.ClientBase, text: string): Promise<void> {
  await client.query({ text, queryMode: 'extended' } as pg.QueryConfig)
}
