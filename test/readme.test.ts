import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { GENERATED_PAGES, README, generatedSections, updatedPage } from '../scripts/readme.js'
import { ROOT } from './helpers/cli.js'
import { tempDir } from './helpers/config.js'
import { databasePair } from './helpers/database-pair.js'
import { testServers } from './helpers/servers.js'

const readme = readFileSync(README, 'utf8')
const EXAMPLES = path.join(ROOT, 'examples')

describe('the README', () => {
  test('starts with the quick start: the demo and the tests, two commands', () => {
    const firstSection = readme.split('\n## ')[1]!
    assert.match(firstSection, /^Quick start\n/)
    assert.match(firstSection, /```bash\nnpm ci && npm run demo {5}# .*\nnpm test {19}# .*\n```/)
  })

  test('links to every page of docs/ there is', () => {
    const linked = new Set(linksOf('README.md').map((link) => link.file))
    for (const page of markdownFiles().filter((file) => file.startsWith('docs/')))
      assert.ok(linked.has(page), `README.md links to ${page}`)
  })

  test('shows each file of examples/ verbatim, so the code it shows type-checks', () => {
    const files = readdirSync(EXAMPLES).filter((name) => name.endsWith('.ts'))
    assert.ok(files.length >= 2)
    for (const name of files) {
      const code = readFileSync(path.join(EXAMPLES, name), 'utf8')
      assert.ok(readme.includes(`\`\`\`ts\n${code}\`\`\``), `README.md shows examples/${name} as it is`)
    }
  })
})

describe('the reference pages', () => {
  test('are what `npm run readme` generates from the code', async () => {
    const sections = await generatedSections()
    for (const file of new Set(Object.values(GENERATED_PAGES))) {
      const page = readFileSync(path.join(ROOT, file), 'utf8')
      assert.equal(page, await updatedPage(file, page, sections), `${file} is stale: run \`npm run readme\``)
    }
  })

  test('a page whose generated text differs from the code is found stale', async () => {
    const sections = await generatedSections()
    for (const [name, file] of Object.entries(GENERATED_PAGES)) {
      const page = readFileSync(path.join(ROOT, file), 'utf8')
      const stale = page.replace(`<!-- generated:${name} (npm run readme) -->\n`, `$&\nan old line\n`)
      assert.notEqual(stale, page, `${file} holds the markers of ${name}`)
      assert.notEqual(await updatedPage(file, stale, sections), stale, `${file} with an old line is stale`)
      const unmarked = page.replace(`<!-- end generated:${name} -->`, '')
      await assert.rejects(updatedPage(file, unmarked, sections), new RegExp(`lacks the markers of ${name}`))
    }
  })
})

describe('the documentation', () => {
  test('every relative link in README.md and the docs points at a file, and its #anchor at a heading there', () => {
    const broken: string[] = []
    for (const from of markdownFiles()) {
      for (const link of linksOf(from)) {
        const target = path.join(ROOT, link.file)
        if (!existsSync(target)) broken.push(`${from}: ${link.href} (no file ${link.file})`)
        else if (link.anchor && !(statSync(target).isFile() && anchorsOf(link.file).has(link.anchor)))
          broken.push(`${from}: ${link.href} (no heading #${link.anchor} in ${link.file})`)
      }
    }
    assert.deepEqual(broken, [])
  })
})

describe('the README examples run', () => {
  let servers: Awaited<ReturnType<typeof testServers>>
  before(async () => {
    servers = await testServers()
  })
  after(async () => {
    await servers?.stop()
  })

  test('nightly-refresh.ts copies and verifies the configured tables', async () => {
    const db = await databasePair(servers, 'example_nightly')
    try {
      await db.source.sql(`
        CREATE SCHEMA sales;
        CREATE TABLE sales.stores (id int PRIMARY KEY, name text);
        INSERT INTO sales.stores SELECT g, 'store ' || g FROM generate_series(1, 25) g;`)
      const result = await runExample('nightly-refresh.ts', {
        TABLEHAUL_SOURCE_URL: db.source.url,
        TABLEHAUL_TARGET_URL: db.target.url,
      })
      assert.equal(result.code, 0, result.output)
      assert.match(result.output, /^sales\.stores: 25 rows in \d+ ms$/m)
      assert.match(result.output, /^run succeeded: 1\/1 tables, log .*\.ndjson$/m)
      assert.match(result.output, /^sales\.stores: same$/m)
    } finally {
      await db.drop()
    }
  })

  test('csv-files.ts exports a table to .csv.gz and imports it back', async () => {
    const db = await databasePair(servers, 'example_csv')
    try {
      const table = `CREATE SCHEMA sales; CREATE TABLE sales.stores_sales (id int PRIMARY KEY, amount numeric(10,2));`
      await db.source.sql(
        `${table} INSERT INTO sales.stores_sales SELECT g, g / 4.0 FROM generate_series(1, 1234) g;`,
      )
      await db.target.sql(table)
      const result = await runExample('csv-files.ts', {
        TABLEHAUL_SOURCE_URL: db.source.url,
        TABLEHAUL_TARGET_URL: db.target.url,
      })
      assert.equal(result.code, 0, result.output)
      assert.match(result.output, /^export succeeded: 1234 rows$/m)
      assert.match(result.output, /^import succeeded: 1234 rows$/m)
    } finally {
      await db.drop()
    }
  })
})

/** Runs an example as a user would run their script, in a folder of its own, with tsx. */
function runExample(name: string, env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(EXAMPLES, name)], {
    cwd: tempDir(),
    // `tablehaul` resolves to src/index.ts through the project's tsconfig paths.
    env: { PATH: process.env.PATH, TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, output })))
}

/** README.md, every page under docs/ and every README.md under src/, relative to the root, with / separators. */
function markdownFiles(): string[] {
  const under = (folder: string) =>
    readdirSync(path.join(ROOT, folder), { recursive: true, encoding: 'utf8' })
      .map((file) => `${folder}/${file.split(path.sep).join('/')}`)
      .filter((file) => file.endsWith('.md'))
  return ['README.md', ...under('docs'), ...under('src').filter((file) => file.endsWith('/README.md'))].sort()
}

type Link = { href: string; file: string; anchor: string | undefined }

/** The relative links of a page (Markdown links and images, HTML src/href), outside code. */
function linksOf(page: string): Link[] {
  const prose = readFileSync(path.join(ROOT, page), 'utf8')
    .replace(/^[ \t]*(```|~~~)[^]*?^[ \t]*\1/gm, '')
    .replace(/`[^`\n]*`/g, '')
  const hrefs = [
    ...[...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!),
    ...[...prose.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((match) => match[1]!),
  ]
  return hrefs
    .filter((href) => !/^[a-z][a-z0-9+.-]*:/i.test(href))
    .map((href) => {
      const [file, anchor] = href.split('#') as [string, string | undefined]
      const resolved =
        file === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file))
      return {
        href,
        file: decodeURIComponent(resolved),
        anchor: anchor ? decodeURIComponent(anchor) : undefined,
      }
    })
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens, -1 on repeats. */
function anchorsOf(page: string): Set<string> {
  const anchors = new Set<string>()
  const text = readFileSync(path.join(ROOT, page), 'utf8').replace(/^[ \t]*(```|~~~)[^]*?^[ \t]*\1/gm, '')
  for (const [, heading] of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading!
      .toLowerCase()
      .replace(/<[^>]*>/g, '')
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/\s/g, '-')
    let anchor = slug
    for (let n = 1; anchors.has(anchor); n++) anchor = `${slug}-${n}`
    anchors.add(anchor)
  }
  for (const [, id] of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(id!)
  return anchors
}
