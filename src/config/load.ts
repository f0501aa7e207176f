import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import type { z } from 'zod'
import { TablehaulError } from '../errors.js'
import { closest } from '../closest.js'
import { type Config, configSchema } from './schema.js'

/** Values given on the command line; each one overrides the environment and the file. */
export interface ConfigFlags {
  readonly source?: string | undefined
  readonly target?: string | undefined
  readonly tables?: readonly string[] | undefined
  readonly exclude?: readonly string[] | undefined
  readonly mode?: string | undefined
  readonly verify?: string | undefined
  readonly schema?: string | undefined
  readonly objects?: string | undefined
  readonly owners?: string | undefined
  readonly privileges?: string | undefined
  readonly jobs?: string | number | undefined
  readonly format?: string | undefined
  readonly logDir?: string | undefined
  readonly emailTo?: readonly string[] | undefined
  readonly emailFrom?: string | undefined
  readonly smtpUrl?: string | undefined
  readonly outbox?: string | undefined
  readonly localDir?: string | undefined
}

/** Where `loadConfig()` reads the configuration from. */
export interface LoadConfigOptions {
  /** Path of the YAML file; when absent, TABLEHAUL_CONFIG, then ./tablehaul.yaml if it exists. */
  readonly file?: string | undefined
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv
  readonly flags?: ConfigFlags
  /** Folder that relative paths (the file, log.dir, local.dir) start from. @default process.cwd() */
  readonly cwd?: string
}

/** The result of `loadConfig()`: the validated config, with defaults applied and paths made absolute. */
export interface LoadedConfig {
  readonly config: Config
  /** The file that was read, if any. */
  readonly file: string | undefined
}

type Setter = (raw: Record<string, unknown>, value: string) => void

/** Environment variables tablehaul reads, and the config key each one sets. */
export const ENVIRONMENT_VARIABLES: ReadonlyArray<{ name: string; key: string; set: Setter }> = [
  { name: 'TABLEHAUL_SOURCE_URL', key: 'source.url', set: (raw, v) => setPath(raw, ['source', 'url'], v) },
  {
    name: 'TABLEHAUL_SOURCE_PASSWORD',
    key: 'source.password',
    set: (raw, v) => setPath(raw, ['source', 'password'], v),
  },
  { name: 'TABLEHAUL_TARGET_URL', key: 'target.url', set: (raw, v) => setPath(raw, ['target', 'url'], v) },
  {
    name: 'TABLEHAUL_TARGET_PASSWORD',
    key: 'target.password',
    set: (raw, v) => setPath(raw, ['target', 'password'], v),
  },
  {
    name: 'TABLEHAUL_TABLES',
    key: 'tables (comma-separated)',
    set: (raw, v) => setPath(raw, ['tables'], splitList(v)),
  },
  {
    name: 'TABLEHAUL_EXCLUDE',
    key: 'exclude (comma-separated)',
    set: (raw, v) => setPath(raw, ['exclude'], splitList(v)),
  },
  { name: 'TABLEHAUL_MODE', key: 'mode', set: (raw, v) => setPath(raw, ['mode'], v) },
  { name: 'TABLEHAUL_VERIFY', key: 'verify', set: (raw, v) => setPath(raw, ['verify'], v) },
  { name: 'TABLEHAUL_OBJECTS', key: 'objects', set: (raw, v) => setPath(raw, ['objects'], v) },
  { name: 'TABLEHAUL_OWNERS', key: 'owners', set: (raw, v) => setPath(raw, ['owners'], v) },
  { name: 'TABLEHAUL_PRIVILEGES', key: 'privileges', set: (raw, v) => setPath(raw, ['privileges'], v) },
  { name: 'TABLEHAUL_JOBS', key: 'jobs', set: (raw, v) => setPath(raw, ['jobs'], v) },
  { name: 'TABLEHAUL_LOG_DIR', key: 'log.dir', set: (raw, v) => setPath(raw, ['log', 'dir'], v) },
  { name: 'TABLEHAUL_SMTP_URL', key: 'email.smtp', set: (raw, v) => setPath(raw, ['email', 'smtp'], v) },
  { name: 'TABLEHAUL_EMAIL_FROM', key: 'email.from', set: (raw, v) => setPath(raw, ['email', 'from'], v) },
  {
    name: 'TABLEHAUL_EMAIL_TO',
    key: 'email.to (comma-separated)',
    set: (raw, v) => setPath(raw, ['email', 'to'], splitList(v)),
  },
  { name: 'TABLEHAUL_EMAIL_ON', key: 'email.on', set: (raw, v) => setPath(raw, ['email', 'on'], v) },
  { name: 'TABLEHAUL_LOCAL_DIR', key: 'local.dir', set: (raw, v) => setPath(raw, ['local', 'dir'], v) },
]

/**
 * Reads the configuration: defaults < file < environment < flags. Every problem is reported at once in
 * one `CONFIG_INVALID` error whose message has a `path: message` line per problem.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd()
  const { raw, file, problems, origins } = readRaw(options)
  const parsed = configSchema.safeParse(raw, { error: plainMessage })
  const lines = problems.map((p) => p.line)
  if (!parsed.success) lines.push(...describeIssues(parsed.error.issues, raw, [], origins))
  if (lines.length > 0 || !parsed.success) {
    // Only a file whose own lines are wrong is named: a bad flag or variable is not the file's fault.
    const fromFile =
      problems.length > 0 ||
      (!parsed.success && parsed.error.issues.some((issue) => !originOf(issue.path, origins)))
    const where = file && fromFile ? path.relative(cwd, file) || file : 'the configuration'
    throw new TablehaulError(
      'CONFIG_INVALID',
      `${where} is not valid:\n${lines.map((p) => `  ${p}`).join('\n')}`,
      {
        hint: 'fix the lines above and run again (`tablehaul config --schema` lists every key)',
      },
    )
  }
  return { config: withAbsolutePaths(parsed.data, cwd), file }
}

/** What a configuration that does not load still says about where a run reports. */
export interface ReportingSettings {
  /** Every setting at its default but `log:`, `email:` and `local:`, each as configured where it is valid on its own. */
  readonly config: Config
  /** Whether `log:` is valid (or left out of a file that was read), so that `config.log` is where the user wants the logs. */
  readonly logValid: boolean
  /** Whether `local:` is valid (or left out of a file that was read): the embedded server can be found. */
  readonly localValid: boolean
  /** The URLs and passwords of the file, the environment and the flags as read (valid or not), to redact. */
  readonly secrets: string[]
  /**
   * source.url as read, when it is a URL with no missing `${VAR}` in it (the password's variable may
   * be the one missing): the embedded server names a source's local copy after its database.
   */
  readonly sourceUrl: string | undefined
  /** Whether a source.url was given at all (in the file, the environment or the flags). */
  readonly sourceGiven: boolean
  /**
   * target.url read the same way; `local` when the file was read and nothing names a target (the embedded
   * server); undefined when it cannot be known.
   */
  readonly targetUrl: string | 'local' | undefined
}

/**
 * The `log:` and `email:` sections of a configuration that does not load, so that its error (say a
 * `${VAR}` not set under cron) is logged and mailed like a run's. When the file itself cannot be read or
 * parsed, only the environment and the flags count, and undefined comes back unless they say where to log
 * or mail: a log in a default folder the file may have moved elsewhere would only surprise.
 */
export function reportingSettings(options: LoadConfigOptions = {}): ReportingSettings | undefined {
  let read: ReturnType<typeof readRaw>
  let fileRead = true
  try {
    read = readRaw(options)
  } catch {
    read = readRaw(options, { withoutFile: true })
    fileRead = false
    if (read.raw.log === undefined && read.raw.email === undefined) return undefined
  }
  const section = (key: 'log' | 'email' | 'local'): unknown => {
    if (read.problems.some((p) => p.at[0] === key)) return undefined
    return configSchema.shape[key].safeParse(read.raw[key]).success ? read.raw[key] : undefined
  }
  const log = section('log')
  const local = section('local')
  const config = configSchema.parse({ log, email: section('email'), local })
  const text = (section: unknown, key: string): string[] => {
    const value = (section as Record<string, unknown> | undefined)?.[key]
    return typeof value === 'string' ? [value] : []
  }
  const { source, target, email } = read.raw
  const urlRead = (side: 'source' | 'target'): string | undefined => {
    const [url] = text(read.raw[side], 'url')
    const whole =
      url !== undefined &&
      // a URL from --source or TABLEHAUL_SOURCE_URL replaces the file's, whatever was missing in that one
      (read.origins.has(`${side}.url`) ||
        !read.problems.some((p) => p.at[0] === side && p.at[1] === 'url')) &&
      URL.canParse(url)
    return whole ? url : undefined
  }
  return {
    sourceUrl: urlRead('source'),
    sourceGiven: text(source, 'url').length > 0,
    targetUrl: urlRead('target') ?? (fileRead && target === undefined ? 'local' : undefined),
    config: withAbsolutePaths(config, options.cwd ?? process.cwd()),
    logValid: log !== undefined || (fileRead && read.raw.log === undefined),
    localValid: local !== undefined || (fileRead && read.raw.local === undefined),
    secrets: [
      ...[source, target].flatMap((endpoint) => [...text(endpoint, 'url'), ...text(endpoint, 'password')]),
      ...text(email, 'smtp'),
    ],
  }
}

/** The file, the environment and the flags, merged; `${VAR}` problems are collected, not thrown. */
function readRaw(
  options: LoadConfigOptions,
  { withoutFile = false } = {},
): {
  raw: Record<string, unknown>
  file: string | undefined
  problems: Array<{ at: readonly PropertyKey[]; line: string }>
  /** Where a value that did not come from the file came from (`--jobs`, `TABLEHAUL_JOBS`), by dotted path. */
  origins: Map<string, string>
} {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const file = withoutFile ? undefined : resolveConfigFile(options.file ?? env.TABLEHAUL_CONFIG, cwd)
  const problems: Array<{ at: readonly PropertyKey[]; line: string }> = []
  let raw: Record<string, unknown> = {}
  if (file) raw = interpolate(readYamlFile(file), env, [], problems) as Record<string, unknown>
  const origins = new Map<string, string>()
  for (const variable of ENVIRONMENT_VARIABLES) {
    const value = env[variable.name]
    if (value === undefined || value === '') continue
    variable.set(raw, value)
    origins.set(variable.key.split(' ')[0]!, `in ${variable.name}`)
  }
  applyFlags(raw, options.flags ?? {}, origins)
  return { raw, file, problems, origins }
}

function withAbsolutePaths(config: Config, cwd: string): Config {
  config.log.dir = path.resolve(cwd, config.log.dir)
  config.local.dir = path.resolve(cwd, config.local.dir)
  if (config.email?.outbox) config.email.outbox = path.resolve(cwd, config.email.outbox)
  return config
}

/** The source endpoint, or a CONFIG_INVALID error that says how to give one. */
export function requireSource(config: Config): NonNullable<Config['source']> {
  if (!config.source) {
    throw new TablehaulError('CONFIG_INVALID', 'source.url: no source is configured', {
      hint: 'give --source postgres://user@host/db, set TABLEHAUL_SOURCE_URL, or write source.url in tablehaul.yaml (`tablehaul init` writes a starter file)',
    })
  }
  return config.source
}

function resolveConfigFile(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit) {
    const file = path.resolve(cwd, explicit)
    if (!existsSync(file)) {
      throw new TablehaulError('CONFIG_INVALID', `config file ${explicit} does not exist`, {
        hint: 'check the path given to --config (or TABLEHAUL_CONFIG); `tablehaul init` writes a starter file',
      })
    }
    return file
  }
  const defaultFile = path.resolve(cwd, 'tablehaul.yaml')
  return existsSync(defaultFile) ? defaultFile : undefined
}

function readYamlFile(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new TablehaulError('CONFIG_INVALID', `cannot read config file ${file}`, { cause: error })
  }
  const { parseDocument } = loadYaml()
  const document = parseDocument(text, { prettyErrors: true })
  if (document.errors.length > 0) {
    const lines = document.errors.map((error) => {
      const position = error.linePos?.[0]
      const at = position ? `line ${position.line}, column ${position.col}` : 'somewhere'
      return `  ${at}: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`
    })
    throw new TablehaulError('CONFIG_INVALID', `${file} is not valid YAML:\n${lines.join('\n')}`, {
      hint: 'fix the YAML syntax at the lines above',
    })
  }
  let value: unknown
  try {
    // yaml refuses to expand a document whose aliases would multiply (a "billion laughs" bomb).
    value = document.toJS()
  } catch (error) {
    throw new TablehaulError(
      'CONFIG_INVALID',
      `${file} cannot be read as YAML: ${(error as Error).message}`,
      {
        cause: error,
        hint: 'write the values out instead of repeating them through many aliases (*name)',
      },
    )
  }
  if (value === null || value === undefined) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TablehaulError(
      'CONFIG_INVALID',
      `${file} must hold a mapping of keys (source:, target:, tables:, …)`,
    )
  }
  return value as Record<string, unknown>
}

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of the file; `$$` stands for a literal `$`.
 * SQL the user wrote (`where:`, `query:` of a `tables:` entry) is left as written: `$$` and `${…}` are
 * PostgreSQL's own there (dollar quoting).
 */
function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  at: PropertyKey[],
  problems: Array<{ at: readonly PropertyKey[]; line: string }>,
): unknown {
  if (isUserSql(at)) return value
  if (typeof value === 'string') {
    return value.replace(
      /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
      (match, name?: string, fallback?: string) => {
        if (match === '$$') return '$'
        const found = env[name!]
        if (found !== undefined && found !== '') return found
        if (fallback !== undefined) return fallback
        problems.push({
          at,
          line: `${formatPath(at)}: environment variable ${name} is ${found === '' ? 'empty' : 'not set'} (set it in the environment that runs tablehaul, e.g. the crontab line, or write \${${name}:-value} where a default makes sense)`,
        })
        return ''
      },
    )
  }
  if (Array.isArray(value))
    return value.map((item, index) => interpolate(item, env, [...at, index], problems))
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolate(item, env, [...at, key], problems)]),
    )
  }
  return value
}

/** `tables.<n>.where` and `tables.<n>.query`. */
function isUserSql(at: readonly PropertyKey[]): boolean {
  return (
    at.length === 3 &&
    at[0] === 'tables' &&
    typeof at[1] === 'number' &&
    (at[2] === 'where' || at[2] === 'query')
  )
}

function applyFlags(raw: Record<string, unknown>, flags: ConfigFlags, origins: Map<string, string>): void {
  const set = (keys: string[], flag: string, value: unknown) => {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) return
    setPath(raw, keys, value)
    origins.set(keys.join('.'), `by ${flag}`)
  }
  set(['source', 'url'], '--source', flags.source)
  set(['target', 'url'], '--target', flags.target)
  set(['tables'], '--table', flags.tables && [...flags.tables])
  set(['exclude'], '--exclude', flags.exclude && [...flags.exclude])
  set(['mode'], '--mode', flags.mode)
  set(['verify'], '--verify', flags.verify)
  set(['schema'], '--schema', flags.schema)
  set(['objects'], '--objects', flags.objects)
  set(['owners'], '--owners', flags.owners)
  set(['privileges'], '--privileges', flags.privileges)
  set(['jobs'], '--jobs', flags.jobs)
  set(['copy', 'format'], '--format', flags.format)
  set(['log', 'dir'], '--log-dir', flags.logDir)
  set(['email', 'to'], '--email-to', flags.emailTo && [...flags.emailTo])
  set(['email', 'from'], '--email-from', flags.emailFrom)
  set(['email', 'smtp'], '--smtp-url', flags.smtpUrl)
  set(['email', 'outbox'], '--outbox', flags.outbox)
  set(['local', 'dir'], '--dir', flags.localDir)
}

function setPath(raw: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = raw
  for (const key of keys.slice(0, -1)) {
    const next = node[key]
    if (!next || typeof next !== 'object' || Array.isArray(next)) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[keys[keys.length - 1]!] = value
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}

function formatPath(at: readonly PropertyKey[]): string {
  return at.length === 0 ? '(top level)' : at.map(String).join('.')
}

type Issue = z.core.$ZodIssue

/** Messages in the words of the config file, where zod's defaults speak of types and options. */
function plainMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_value') return `must be one of ${issue.values.map(String).join(', ')}`
  if (issue.code === 'too_small' && issue.origin === 'number')
    return `must be ${issue.inclusive ? 'at least' : 'more than'} ${String(issue.minimum)}`
  if (issue.code === 'too_big' && issue.origin === 'number')
    return `must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}`
  if (issue.code === 'invalid_type') {
    if (issue.expected === 'number') return 'must be a number'
    if (issue.expected === 'array') return 'must be a list, e.g. [a, b]'
    if (issue.expected === 'object') return 'must be a mapping of keys'
    return `must be a ${issue.expected}`
  }
  return undefined
}

function describeIssues(
  issues: readonly Issue[],
  raw: unknown,
  base: PropertyKey[] = [],
  origins = new Map<string, string>(),
): string[] {
  const lines: string[] = []
  for (const issue of issues) {
    const at = [...base, ...issue.path]
    const origin = originOf(at, origins)
    if (origin) {
      lines.push(`${formatPath(at)}: ${issue.message} (given ${origin})`)
    } else if (issue.code === 'unrecognized_keys') {
      const value = valueAt(raw, at)
      const given =
        value !== null && typeof value === 'object'
          ? Object.keys(value).filter((k) => !issue.keys.includes(k))
          : []
      for (const key of issue.keys) {
        const known = knownKeysAt(at, given)
        const suggestion = closest(key, known)
        lines.push(
          `${formatPath([...at, key])}: unknown key${suggestion ? ` (did you mean "${suggestion}"?)` : ''}${known.length ? `; allowed here: ${known.join(', ')}` : ''}`,
        )
      }
    } else if (issue.code === 'invalid_union') {
      lines.push(...describeUnion(issue, at, raw))
    } else if (issue.code === 'invalid_type' && valueAt(raw, at) === undefined) {
      lines.push(`${formatPath(at)}: required`)
    } else {
      lines.push(`${formatPath(at)}: ${issue.message}`)
    }
  }
  return [...new Set(lines)]
}

/** The flag or variable that gave the value at `at` (or the list or section holding it), if one did. */
function originOf(at: readonly PropertyKey[], origins: ReadonlyMap<string, string>): string | undefined {
  for (let length = at.length; length > 0; length--) {
    const origin = origins.get(at.slice(0, length).map(String).join('.'))
    if (origin) return origin
  }
  return undefined
}

/** A `tables:` entry fits one of three shapes; report the problems of the shape the user meant. */
function describeUnion(
  issue: Extract<Issue, { code: 'invalid_union' }>,
  at: PropertyKey[],
  raw: unknown,
): string[] {
  const value = valueAt(raw, at)
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    // The union's options are, in order: a name, { name, where, into }, { query, into }.
    const meant = issue.errors['query' in value ? 2 : 1]
    if (meant) return describeIssues(meant, raw, at)
  }
  if (value === undefined) return [`${formatPath(at)}: required`]
  // Besides tables:, the unions are the values with a unit: a duration or a size, as text or a number.
  if (at[0] !== 'tables')
    return [`${formatPath(at)}: must be one value such as 30s, 512MB or 10, not ${kindOf(value)}`]
  return [
    `${formatPath(at)}: must be a table name such as sales.orders, { name: sales.orders, where: "…" } or { query: "select …", into: schema.table }`,
  ]
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list'
  if (value === null) return 'null'
  if (typeof value === 'object') return 'a mapping'
  return typeof value === 'boolean' ? `${value}` : JSON.stringify(value)
}

function valueAt(raw: unknown, at: readonly PropertyKey[]): unknown {
  let node = raw
  for (const key of at) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<PropertyKey, unknown>)[key]
  }
  return node
}

/**
 * The keys allowed at `at`; where that is a union (a `tables:` entry), those of the shape that holds most of
 * the keys `given` besides the unknown ones (`{ query, into }` for an entry with a query).
 */
function knownKeysAt(at: readonly PropertyKey[], given: readonly string[] = []): string[] {
  let schema: unknown = configSchema
  for (const key of at) {
    schema = unwrap(schema)
    const shape = (schema as { shape?: Record<string, unknown> }).shape
    if (shape && typeof key === 'string' && key in shape) schema = shape[key]
    else if (typeof key === 'number') {
      const element = (schema as { element?: unknown }).element
      if (!element) return []
      schema = element
    } else return []
  }
  schema = unwrap(schema, given)
  const shape = (schema as { shape?: Record<string, unknown> }).shape
  return shape ? Object.keys(shape) : []
}

function unwrap(schema: unknown, given: readonly string[] = []): unknown {
  let current = schema as {
    unwrap?: () => unknown
    def?: { innerType?: unknown; in?: unknown; options?: unknown[] }
  }
  for (let depth = 0; depth < 10 && current; depth++) {
    const def = current.def
    if (def?.innerType) current = def.innerType as typeof current
    else if (def?.in) current = def.in as typeof current
    else if (def?.options) {
      const shapes = def.options.filter((o) => (o as { shape?: unknown }).shape) as Array<{
        shape: Record<string, unknown>
      }>
      const fit = (o: { shape: Record<string, unknown> }) => given.filter((key) => key in o.shape).length
      const objectOption = shapes.reduce<(typeof shapes)[number] | undefined>(
        (best, o) => (best === undefined || fit(o) > fit(best) ? o : best),
        undefined,
      )
      if (!objectOption) return current
      current = objectOption as typeof current
    } else return current
  }
  return current
}

/** The YAML parser is loaded only when there is a file to read: a run configured by flags does without its ~4 MB. */
function loadYaml(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml')
}
