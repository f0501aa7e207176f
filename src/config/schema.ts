import { z } from 'zod'
import { PASSWORD_WITHOUT_HOST_HINT, withPassword } from '../db/database.js'
import { parseDurationMs, parseSizeBytes } from './units.js'

/**
 * The one description of tablehaul's configuration: the TypeScript type, the defaults, the documentation
 * (`tablehaul config --schema`, docs/reference/configuration.md) and the validation all come from here.
 */

/**
 * A value with a unit, as people write it (`30s`, `512MB`) or as a bare number, parsed into a number.
 * `check` refuses a parsed value that is not allowed, with its message.
 */
const withUnit = (options: {
  readonly parse: (value: string | number) => number | undefined
  readonly malformed: (value: string | number) => string
  readonly check?: (parsed: number) => string | undefined
  readonly fallback: string
  readonly description: string
}) =>
  z
    .union([z.string(), z.number()])
    .default(options.fallback)
    .transform((value, ctx) => {
      const parsed = options.parse(value)
      const problem = parsed === undefined ? options.malformed(value) : options.check?.(parsed)
      if (problem !== undefined) {
        ctx.addIssue({ code: 'custom', message: problem })
        return z.NEVER
      }
      return parsed!
    })
    .describe(options.description)

/**
 * A duration: `30s`, `5m`, `1h`, or a number of seconds. Every wait tablehaul makes is bounded, so 0 is
 * refused unless `zeroMeans` says what 0 stands for (no deadline, retry at once).
 */
const duration = (description: string, fallback: string, zeroMeans?: string) =>
  withUnit({
    parse: parseDurationMs,
    malformed: (value) => `"${value}" is not a duration; write e.g. 30s, 5m or 1h`,
    check: (ms) =>
      ms === 0 && !zeroMeans
        ? 'must be more than 0: every wait is bounded (write e.g. 24h for a long one)'
        : undefined,
    fallback,
    description: `${description} (a duration such as 30s, 5m, 1h${zeroMeans ? `; 0: ${zeroMeans}` : ''}). Default: ${fallback}.`,
  })

const size = (description: string, fallback: string) =>
  withUnit({
    parse: parseSizeBytes,
    malformed: (value) => `"${value}" is not a size; write e.g. 512MB or 2GB`,
    fallback,
    description: `${description} (a size such as 512MB or 2GB). Default: ${fallback}.`,
  })

const postgresUrl = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .refine((value) => /^postgres(ql)?:\/\//i.test(value), {
    message: 'must be a postgres:// or postgresql:// URL, e.g. postgres://user@host:5432/dbname',
  })
  .superRefine((value, ctx) => {
    if (!/^postgres(ql)?:\/\//i.test(value)) return
    const problem = urlProblem(value)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })

/** The sslmode values node-postgres understands (libpq's, and its own no-verify). */
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify']

/** Why node-postgres could not use this URL: a port that is not a number, an sslmode it does not know. */
function urlProblem(value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    const port = /^[^/]*\/\/[^/?#]*:([^/?#@]*)(?:[/?#]|$)/.exec(value)?.[1]
    return port !== undefined && !/^\d*$/.test(port)
      ? `the port "${port}" is not a number; write e.g. postgres://user@host:5432/dbname`
      : 'is not a URL node-postgres can read; write e.g. postgres://user@host:5432/dbname (percent-encode special characters in the user and password)'
  }
  const sslmode = url.searchParams.get('sslmode')
  if (sslmode !== null && !SSL_MODES.includes(sslmode))
    return `sslmode "${sslmode}" is not one of ${SSL_MODES.join(', ')}`
  return undefined
}

export const endpointSchema = z
  .strictObject({
    url: postgresUrl.describe(
      'Connection URL (libpq style): postgres://user@host:port/dbname?sslmode=require. A password may be in the URL, in `password`, in PGPASSWORD or in ~/.pgpass.',
    ),
    password: z
      .string()
      .optional()
      .describe('Password, best given as ${ENV_VAR}; overrides a password in the URL.'),
  })
  .superRefine((endpoint, ctx) => {
    try {
      withPassword(endpoint.url, endpoint.password)
    } catch {
      ctx.addIssue({
        code: 'custom',
        path: ['password'],
        message: `cannot be used: the url names no host to give it to; ${PASSWORD_WITHOUT_HOST_HINT}`,
      })
    }
  })
  .describe('A PostgreSQL server and database.')

const tableNamePattern = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .describe('A table `schema.table`, or a pattern with * such as `sales.*` or `*.orders`.')

/**
 * SQL the user wrote (a `where:` condition, a `query:`), without the trailing `;` that is natural in psql but
 * a syntax error where tablehaul places it (`COPY (query) TO STDOUT`, `WHERE (condition)`).
 */
export function withoutTrailingSemicolons(sql: string): string {
  return sql.trim().replace(/[;\s]+$/, '')
}

const loadMode = z
  .enum(['replace', 'append', 'recreate', 'sync'])
  .describe(
    'replace: the target table ends identical to the source (old rows removed in the same transaction); sync: it ends identical too, but only the rows that differ are written (needs a primary key or a unique index on NOT NULL columns on both sides; without one the table is replaced); append: rows are added; recreate: the target table is dropped and created again from the source definition.',
  )

const userSql = (description: string) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .transform(withoutTrailingSemicolons)
    .pipe(z.string().min(1, 'must not be empty'))
    .describe(description)

export const tableEntrySchema = z.union([
  tableNamePattern,
  z
    .strictObject({
      name: tableNamePattern,
      where: userSql(
        'Copy only the rows that match this SQL condition (your own SQL, run on the source).',
      ).optional(),
      into: z
        .string()
        .trim()
        .min(1)
        .optional()
        .describe('Target table `schema.table` when it differs from the source name.'),
      mode: loadMode.optional().describe("How this table is loaded, when it differs from the run's mode."),
      changed: z
        .string()
        .trim()
        .min(1)
        .optional()
        .describe(
          'mode sync: a column every writer sets when it inserts or updates a row (such as updated_at). Rows whose value is past the greatest one the last sync saw are written first; the fingerprints still compare the whole table afterwards, so rows a writer changed without setting it are found too, and the log says so.',
        ),
    })
    .describe('One table (or pattern) with options.'),
  z
    .strictObject({
      query: userSql('A SELECT whose result is copied (your own SQL, run on the source).'),
      into: z.string().trim().min(1).describe('The target table `schema.table` that receives the result.'),
    })
    .describe("A query's result copied into a target table."),
])

/** The zod schema of `tablehaul.yaml`: `configSchema.parse(raw)` validates a config built in code. */
export const configSchema = z
  .strictObject({
    source: endpointSchema
      .optional()
      .describe('The server the tables are read from (needed by run, plan, verify and export).'),
    target: endpointSchema
      .optional()
      .describe(
        "The server the tables are written to. Omit it to use tablehaul's embedded local PostgreSQL.",
      ),
    tables: z
      .array(tableEntrySchema)
      .optional()
      .describe('What to copy. Omit it to copy every user table of the source.'),
    exclude: z.array(tableNamePattern).default([]).describe('Tables (or patterns) left out. Default: none.'),
    mode: loadMode.default('replace').describe(`${loadMode.description} Default: replace.`),
    verify: z
      .enum(['none', 'checksum'])
      .default('none')
      .describe(
        "checksum: before each table's COMMIT (mode replace or sync; tables loaded with append or recreate are not checked), the whole table's fingerprint is compared on both sides, and a table that differs fails with its previous rows kept. Default: none.",
      ),
    schema: z
      .enum(['create-missing', 'none'])
      .default('create-missing')
      .describe(
        'create-missing: tables (and the schemas, types and sequences they need) missing on the target are created from the source; none: they must already exist. Default: create-missing.',
      ),
    objects: z
      .enum(['tables', 'all'])
      .default('tables')
      .describe(
        "tables: the selected tables (and what they need: their schemas, types, functions, collations, text search configurations, sequences), then the views and materialized views of their schemas (or named in tables:) whose relations are on the target. all: also the rest of what pg_dump would restore for the selected tables' schemas: functions and procedures, aggregates, operators with their classes and families, types (base types included) and domains no copied table uses, casts between user types, extensions, collations, text search configurations, dictionaries, templates and parsers, their comments, and the database's access methods made with CREATE ACCESS METHOD and large objects (with their OIDs). An object or view that cannot be created fails alone, named in the report, and the run ends failed. Default: tables.",
      ),
    owners: z
      .enum(['ignore', 'keep'])
      .default('ignore')
      .describe(
        "ignore: what the run creates belongs to the target user it connects as. keep: each copied table, sequence, view, schema, type, function, operator (and, with objects: all, large object) gets its source owner (ALTER … OWNER TO), once the data is in; every owner must exist as a role on the target, or the run stops at its plan, before any data moves, naming the missing roles. The target user must be able to become each owner (a member of it, or a superuser): PostgreSQL's own rule. Default: ignore.",
      ),
    privileges: z
      .enum(['ignore', 'keep'])
      .default('ignore')
      .describe(
        "ignore: the target's own privileges are left as they are (new objects get PostgreSQL's defaults). keep: the same objects get exactly the source's privileges (GRANT and REVOKE, column privileges and PUBLIC's included); every role granted to or by must exist on the target, or the run stops at its plan naming them. Default: ignore.",
      ),
    jobs: z.coerce
      .number()
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(64, 'must be at most 64')
      .default(4)
      .describe('How many tables (or parts) are copied at once, largest first. Default: 4.'),
    copy: z
      .strictObject({
        format: z
          .enum(['auto', 'text', 'binary'])
          .default('auto')
          .describe(
            'COPY format: auto uses binary where every column type allows it on both sides, text otherwise. Default: auto.',
          ),
      })
      .prefault({})
      .describe('How the data moves.'),
    timeouts: z
      .strictObject({
        connect: duration('How long to wait for a connection to either server', '30s'),
        lock: duration(
          "How long a table's copy waits for a lock on the target (for example while a local reader holds the table) before that table fails",
          '1m',
        ),
        stall: duration('A table fails when no bytes moved for this long', '5m'),
        statement: duration(
          'Longest single statement other than the COPY itself (catalog reads, index builds, foreign key checks), on the server and, with 15s of slack, on the client',
          '2h',
        ),
        run: duration(
          'Whole-run deadline: tables not finished by then are stopped and reported',
          '0',
          'no deadline',
        ),
      })
      .prefault({})
      .describe('Every wait is bounded.'),
    retry: z
      .strictObject({
        attempts: z.coerce
          .number()
          .int()
          .min(1)
          .max(20)
          .default(3)
          .describe(
            'Attempts per table for transient failures (dropped connections, server restarts, deadlocks). Default: 3.',
          ),
        backoff: duration('Wait before the first retry; doubles after each attempt', '2s', 'retry at once'),
      })
      .prefault({})
      .describe('Retries of transient failures, each attempt atomic.'),
    log: z
      .strictObject({
        dir: z.string().trim().min(1).default('./logs').describe('Folder of the run logs. Default: ./logs.'),
        keepRuns: z.coerce
          .number()
          .int()
          .min(1)
          .default(100)
          .describe(
            'How many runs are kept: per-run NDJSON logs in the folder, .eml files in email.outbox and run records on the target (tablehaul.runs, tablehaul.copied_tables); older ones are deleted. Default: 100.',
          ),
        maxSize: size(
          'The human-readable tablehaul.log is rotated to tablehaul.log.1 when it grows past this',
          '10MB',
        ),
      })
      .prefault({})
      .describe('Where the logs go.'),
    email: z
      .strictObject({
        smtp: z
          .string()
          .trim()
          .refine((value) => /^smtps?:\/\//i.test(value), {
            message:
              'must be an smtp:// (STARTTLS) or smtps:// (TLS) URL, e.g. smtps://user:${SMTP_PASSWORD}@smtp.example.com:465',
          })
          .optional()
          .describe(
            'SMTP server URL: smtp://host:587 (STARTTLS when offered) or smtps://user:password@host:465.',
          ),
        outbox: z
          .string()
          .trim()
          .min(1)
          .optional()
          .describe(
            'Write each message as an .eml file into this folder instead of (or as well as) sending it.',
          ),
        from: z.string().trim().min(1).default('tablehaul@localhost').describe('Sender address.'),
        to: z.array(z.string().trim().min(1)).default([]).describe('Recipients.'),
        cc: z.array(z.string().trim().min(1)).default([]).describe('Copy recipients.'),
        on: z
          .enum(['always', 'failure', 'never'])
          .default('always')
          .describe('When to send: always, only when something failed, or never. Default: always.'),
        attachLog: z
          .enum(['always', 'failure', 'never'])
          .default('failure')
          .describe("When the run's log is attached. Default: failure."),
        timeout: duration('Connect and send timeout of the SMTP server', '30s'),
        tlsRejectUnauthorized: z
          .boolean()
          .default(true)
          .describe(
            'Refuse an SMTP server whose certificate is not trusted. Set false only for a server you know. Default: true.',
          ),
      })
      .optional()
      .describe('Where the run report goes by e-mail.'),
    local: z
      .strictObject({
        dir: z
          .string()
          .trim()
          .min(1)
          .default('./.tablehaul')
          .describe('Folder of the embedded local PostgreSQL. Default: ./.tablehaul.'),
        port: z.coerce
          .number()
          .int()
          .min(1)
          .max(65535)
          .optional()
          .describe('Its port. Default: a free port chosen on first start.'),
      })
      .prefault({})
      .describe('The embedded local PostgreSQL used when no target is configured.'),
  })
  .superRefine((config, ctx) => {
    // The fingerprint check runs in the table's transaction of a replace or a sync only: an appended
    // table keeps the target's rows, so it never equals the source. A run with no such table checks nothing.
    if (config.verify !== 'checksum' || config.mode === 'replace' || config.mode === 'sync') return
    const checked = (config.tables ?? []).some(
      (entry) =>
        typeof entry !== 'string' && 'mode' in entry && (entry.mode === 'replace' || entry.mode === 'sync'),
    )
    if (checked) return
    ctx.addIssue({
      code: 'custom',
      path: ['verify'],
      message: `checksum checks only tables loaded with mode replace or sync, and every table of this run is loaded with mode ${config.mode}: use mode: replace or sync, or remove verify`,
    })
  })
  .describe('tablehaul configuration (tablehaul.yaml)')

/** A configuration as written (YAML or code): durations and sizes as text, defaults optional. */
export type ConfigInput = z.input<typeof configSchema>
/** A validated configuration, defaults applied: what every part of tablehaul takes. */
export type Config = z.output<typeof configSchema>
/** One entry of `tables:`: a name or pattern, `{ name, where, into }`, or `{ query, into }`. */
export type TableEntry = z.output<typeof tableEntrySchema>
/** A server and database: `source:` or `target:`. */
export type Endpoint = z.output<typeof endpointSchema>
/** How a table is loaded: `replace`, `sync`, `append` or `recreate`. */
export type LoadMode = Config['mode']
/** The `email:` settings. */
export type EmailConfig = NonNullable<Config['email']>

/** JSON Schema of the configuration file, for editors. */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
}
