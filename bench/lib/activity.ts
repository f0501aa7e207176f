// What the target's backends were busy with during a run, sampled from pg_stat_activity: seconds of
// backend activity by kind of statement (COPY, index builds, foreign keys, VACUUM…). Two backends busy for
// one second count two. The same view for every method shows where the target's time goes, overlaps included.
import type pg from 'pg'

export const ACTIVITY_KINDS = [
  'copy',
  'index',
  'fk',
  'alter',
  'ddl',
  'vacuum',
  'select',
  'commit',
  'other',
] as const
export type ActivityKind = (typeof ACTIVITY_KINDS)[number]

/** The kind of work a statement makes the target do. */
export function activityKind(query: string): ActivityKind {
  const q = query.replace(/\s+/g, ' ').trim().toLowerCase()
  if (q.startsWith('copy ')) return 'copy'
  if (/^create (unique )?index/.test(q)) return 'index'
  if (/foreign key/.test(q)) return 'fk'
  // a primary key or unique constraint without USING INDEX builds its index
  if (/^alter table .*add constraint .*(primary key|unique)/.test(q) && !/using index/.test(q)) return 'index'
  if (/^alter table /.test(q)) return 'alter'
  if (/^(create|drop|comment|alter) /.test(q)) return 'ddl'
  if (/^(vacuum|analyze)\b/.test(q)) return 'vacuum'
  if (/^(select|with) /.test(q)) return 'select'
  if (/^(commit|end)\b/.test(q)) return 'commit'
  return 'other'
}

export class ActivitySampler {
  private readonly seconds = new Map<ActivityKind, number>()
  private timer: NodeJS.Timeout | undefined
  private busy: Promise<void> | undefined
  private last = 0

  /** `client` is connected to the target server (any database) and used by nothing else meanwhile. */
  constructor(
    private readonly client: pg.Client,
    private readonly database: string,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    this.last = Date.now()
    this.timer = setInterval(() => {
      this.busy ??= this.sample().finally(() => (this.busy = undefined))
    }, this.intervalMs)
  }

  async stop(): Promise<Map<ActivityKind, number>> {
    clearInterval(this.timer)
    await this.busy
    return this.seconds
  }

  private async sample(): Promise<void> {
    const { rows } = await this.client
      .query<{ query: string }>(
        `SELECT query FROM pg_stat_activity
          WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
        [this.database],
      )
      .catch(() => ({ rows: [] as Array<{ query: string }> }))
    const now = Date.now()
    const elapsed = (now - this.last) / 1000
    this.last = now
    for (const { query } of rows) {
      const kind = activityKind(query)
      this.seconds.set(kind, (this.seconds.get(kind) ?? 0) + elapsed)
    }
  }
}
