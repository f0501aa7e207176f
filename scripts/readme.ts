// Regenerates the reference pages under docs/reference/ from their single sources of truth: the zod config
// schema (as JSON Schema), the environment variables the loader reads, the error codes, and the CLI's own
// --help. `npm run readme` rewrites the pages; test/readme.test.ts fails when one is stale.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import prettier from 'prettier'
import { main } from '../src/cli/main.js'
import type { Output } from '../src/cli/output.js'
import { ENVIRONMENT_VARIABLES } from '../src/config/load.js'
import { configJsonSchema } from '../src/config/schema.js'
import { ERROR_CODES } from '../src/errors.js'

export const ROOT = path.resolve(import.meta.dirname, '..')
export const README = path.join(ROOT, 'README.md')

/** Each generated section, by the name its markers carry, and the page (relative to the root) that holds it. */
export const GENERATED_PAGES: Readonly<Record<string, string>> = {
  cli: 'docs/reference/cli.md',
  config: 'docs/reference/configuration.md',
  environment: 'docs/reference/environment.md',
  'error-codes': 'docs/reference/errors.md',
}

type JsonSchema = {
  type?: string | string[]
  description?: string
  default?: unknown
  enum?: unknown[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  anyOf?: JsonSchema[]
  minimum?: number
  maximum?: number
}

/** Every generated section, by the name its markers carry. */
export async function generatedSections(): Promise<Record<string, string>> {
  return {
    config: configReference(),
    environment: environmentReference(),
    'error-codes': errorCodeReference(),
    cli: await cliReference(),
  }
}

/**
 * A page with each generated section it holds replaced by its current text (`file` is relative to the root).
 * A page of GENERATED_PAGES that lacks the markers of its section is an error, so a section cannot silently
 * stop being generated.
 */
export async function updatedPage(
  file: string,
  text: string,
  sections?: Record<string, string>,
): Promise<string> {
  let result = text
  for (const [name, body] of Object.entries(sections ?? (await generatedSections()))) {
    const begin = `<!-- generated:${name} (npm run readme) -->`
    const end = `<!-- end generated:${name} -->`
    const from = result.indexOf(begin)
    const to = result.indexOf(end)
    if (from === -1 && to === -1 && GENERATED_PAGES[name] !== file) continue
    if (from === -1 || to === -1 || to < from) throw new Error(`${file} lacks the markers of ${name}`)
    result = `${result.slice(0, from + begin.length)}\n\n${body.trimEnd()}\n\n${result.slice(to)}`
  }
  // Formatted as `prettier --check` expects, so the generated text is exactly what the repository holds.
  const filepath = path.join(ROOT, file)
  const options = await prettier.resolveConfig(filepath)
  return prettier.format(result, { ...options, filepath })
}

function configReference(): string {
  const schema = configJsonSchema() as JsonSchema
  const rows: string[][] = []
  const visit = (node: JsonSchema, prefix: string, required: readonly string[]) => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const name = prefix ? `${prefix}.${key}` : key
      const { text, fallback } = splitDefault(child.description ?? '')
      const isObject = child.type === 'object' && child.properties
      rows.push([
        `\`${name}\``,
        isObject ? 'section' : typeOf(child, child.description ?? ''),
        required.includes(key) ? 'required' : defaultOf(child, fallback),
        escapeCell(text),
      ])
      if (isObject) visit(child, name, child.required ?? [])
    }
  }
  visit(schema, '', schema.required ?? [])
  const tableShapes = (schema.properties?.tables?.items?.anyOf ?? []).map((shape) =>
    shape.type === 'string'
      ? '`schema.table` or a pattern'
      : `\`{ ${Object.keys(shape.properties ?? {}).join(', ')} }\``,
  )
  return [
    '| key | type | default | meaning |',
    '| --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    `A \`tables:\` entry is one of: ${tableShapes.join('; ')}. Durations are written \`30s\`, \`5m\`, \`1h\` (a bare number is seconds); sizes \`512MB\`, \`2GB\`. Any string may use \`\${ENV_VAR}\` or \`\${ENV_VAR:-default}\` (\`$$\` for a \`$\`), except the SQL of \`where:\` and \`query:\`, which is used as written.`,
  ].join('\n')
}

/** Splits "… Default: 30s." into the meaning and the default; the unit hints go (the type column says it). */
function splitDefault(description: string): { text: string; fallback: string | undefined } {
  const plain = description.replace(/ \(a (duration|size) such as [^)]*\)/, '')
  const match = /^(.*?)\s*Default: (.*)\.$/s.exec(plain)
  return match ? { text: match[1]!, fallback: match[2]! } : { text: plain, fallback: undefined }
}

function typeOf(node: JsonSchema, description: string): string {
  if (node.enum) return node.enum.map((value) => `\`${String(value)}\``).join(' \\| ')
  if (/\(a duration/.test(description)) return 'duration'
  if (/\(a size/.test(description)) return 'size'
  if (node.type === 'array') {
    const item = node.items
    if (item?.anyOf) return 'list of entries'
    return `list of ${item?.type === 'string' ? 'strings' : (item?.type ?? 'values')}`
  }
  if (node.type === 'integer' && node.minimum !== undefined) {
    const bounded = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER
    return bounded ? `integer ${node.minimum}–${node.maximum}` : `integer ≥ ${node.minimum}`
  }
  if (node.anyOf) return node.anyOf.map((option) => option.type).join(' or ')
  return String(node.type ?? 'value')
}

function defaultOf(node: JsonSchema, fallback: string | undefined): string {
  if (fallback === 'none') return '—'
  if (fallback !== undefined) return /^[\w./@:-]+$/.test(fallback) ? `\`${fallback}\`` : escapeCell(fallback)
  const value = node.default
  if (value === undefined || (typeof value === 'object' && value !== null && Object.keys(value).length === 0))
    return '—'
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

function environmentReference(): string {
  return [
    '| variable | sets |',
    '| --- | --- |',
    '| `TABLEHAUL_CONFIG` | the config file (like `--config`) |',
    ...ENVIRONMENT_VARIABLES.map((variable) => `| \`${variable.name}\` | \`${variable.key}\` |`),
    '| `PGPASSWORD`, `PGUSER`, … and `~/.pgpass` | what a URL leaves out, as with `psql` |',
  ].join('\n')
}

function errorCodeReference(): string {
  return [
    '| code | meaning |',
    '| --- | --- |',
    ...Object.entries(ERROR_CODES).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`),
  ].join('\n')
}

const COMMANDS = ['run', 'plan', 'verify', 'export', 'import', 'config', 'init', 'local', 'demo'] as const

async function cliReference(): Promise<string> {
  const blocks: string[] = []
  for (const command of COMMANDS) {
    const help = await helpOf([command, '--help'])
    blocks.push(
      `<details><summary><code>tablehaul ${command} --help</code></summary>`,
      '',
      '```text',
      help.trimEnd(),
      '```',
      '',
      '</details>',
      '',
    )
  }
  return blocks.join('\n')
}

async function helpOf(argv: string[]): Promise<string> {
  let text = ''
  const writer = { write: (chunk: string) => (text += chunk), isTTY: false }
  const out: Output = { stdout: writer, stderr: writer }
  await main(argv, {}, out, '/')
  return text
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sections = await generatedSections()
  for (const file of new Set(Object.values(GENERATED_PAGES))) {
    const before = readFileSync(path.join(ROOT, file), 'utf8')
    const after = await updatedPage(file, before, sections)
    writeFileSync(path.join(ROOT, file), after)
    console.log(before === after ? `${file} is up to date` : `${file} updated`)
  }
}
