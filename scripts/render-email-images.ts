// Renders the pictures of the run e-mail in docs/email-and-logs.md from real runs: starts a throwaway source
// (the demo's sales schema) and target, runs a transfer that succeeds and one where two tables fail, captures
// the HTML of both e-mails and screenshots it with headless Chromium (Debian: apt-get install chromium). Then
// prints both logs of the runs, for that page's samples.
//
//   npm run build && node --import tsx scripts/render-email-images.ts [--keep-html DIR]
//
// Only needed to refresh docs/img/*.png; neither the tests nor CI use it.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../src/config/load.js'
import type { Delivery, EmailMessage, Notifier } from '../src/notify/notifier.js'
import { TransferJob } from '../src/run/transfer-job.js'
import { TestServer, withClient } from '../test/helpers/servers.js'

const root = path.resolve(import.meta.dirname, '..')
const out = path.join(root, 'docs', 'img')
const work = mkdtempSync(path.join(os.tmpdir(), 'tablehaul-images-'))
const keepHtml = process.argv.includes('--keep-html')
  ? process.argv[process.argv.indexOf('--keep-html') + 1]
  : undefined

/** Keeps the messages instead of sending them: the HTML is what the pictures show. */
class CapturingNotifier implements Notifier {
  readonly description = 'capture'
  readonly messages: EmailMessage[] = []
  async send(message: EmailMessage): Promise<Delivery> {
    this.messages.push(message)
    return { via: this.description, detail: 'captured' }
  }
}

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--hide-scrollbars',
]

function chromium(args: string[]): string {
  const profile = mkdtempSync(path.join(work, 'profile-'))
  try {
    return execFileSync('chromium', [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 60_000,
    })
  } finally {
    rmSync(profile, { recursive: true, force: true })
  }
}

/**
 * The page's height at `width`, measured by Chromium itself, so the picture ends where the e-mail does. The
 * body is set to the width because a headless window is never narrower than about 500 px.
 */
function contentHeight(html: string, width: number, extra: string[]): number {
  const probe = path.join(work, 'probe.html')
  writeFileSync(
    probe,
    html.replace(
      '</body>',
      `<script>addEventListener('load', () => { document.body.style.width = '${width}px'; document.body.setAttribute('data-height', String(Math.ceil(document.body.getBoundingClientRect().height))) })</script></body>`,
    ),
  )
  const dom = chromium([...extra, `--window-size=${width},4000`, '--dump-dom', `file://${probe}`])
  const height = Number(/data-height="(\d+)"/.exec(dom)?.[1])
  if (!height) throw new Error('chromium did not report the page height')
  return height
}

function screenshot(html: string, file: string, options: { width: number; dark?: boolean }): void {
  const extra = options.dark ? ['--force-dark-mode', '--blink-settings=preferredColorScheme=0'] : []
  const height = contentHeight(html, options.width, extra)
  const page = path.join(work, `${path.basename(file, '.png')}.html`)
  writeFileSync(page, html)
  chromium([...extra, `--window-size=${options.width},${height}`, `--screenshot=${file}`, `file://${page}`])
  console.log(`wrote ${path.relative(root, file)} (${options.width}x${height})`)
}

async function createDatabase(server: TestServer, name: string): Promise<string> {
  await withClient(server.url, (client) => client.query(`CREATE DATABASE ${name}`))
  return server.urlFor(name)
}

const [sourceServer, targetServer] = await Promise.all([
  TestServer.start('source'),
  TestServer.start('target'),
])
try {
  const sourceUrl = await createDatabase(sourceServer, 'sales')
  await withClient(sourceUrl, (client) =>
    client.query(readFileSync(path.join(root, 'src', 'demo', 'sales.sql'), 'utf8')),
  )
  const okTarget = await createDatabase(targetServer, 'sales_copy')
  const failTarget = await createDatabase(targetServer, 'sales_reporting')
  // Two tables that already exist on the second target and reject what the source holds.
  await withClient(failTarget, (client) =>
    client.query(`
      CREATE SCHEMA sales;
      CREATE TABLE sales.products (id int PRIMARY KEY, sku text NOT NULL, name text NOT NULL,
                                   price numeric(10,2) NOT NULL CHECK (price < 400), attributes jsonb);
      CREATE TABLE sales.customers (id int PRIMARY KEY, name text NOT NULL, email varchar(20),
                                    signed_up timestamptz NOT NULL);
    `),
  )
  const logDir = path.join(work, 'logs')
  const run = async (target: string) => {
    const { config } = loadConfig({
      cwd: work,
      env: {},
      flags: {
        source: sourceUrl,
        target,
        logDir,
        emailTo: ['dba@example.com'],
        emailFrom: 'tablehaul@example.com',
      },
    })
    const notifier = new CapturingNotifier()
    const report = await new TransferJob(config, { notifier }).run()
    const message = notifier.messages[0]
    if (!message) throw new Error(`the ${report.status} run sent no e-mail`)
    console.log(`${report.status}: ${message.subject}`)
    return message
  }
  const success = await run(okTarget)
  const failure = await run(failTarget)
  if (keepHtml) {
    mkdirSync(keepHtml, { recursive: true })
    writeFileSync(path.join(keepHtml, 'success.html'), success.html)
    writeFileSync(path.join(keepHtml, 'failure.html'), failure.html)
    writeFileSync(path.join(keepHtml, 'success.txt'), success.text)
    writeFileSync(path.join(keepHtml, 'failure.txt'), failure.text)
  }
  mkdirSync(out, { recursive: true })
  screenshot(success.html, path.join(out, 'email-success.png'), { width: 800 })
  screenshot(failure.html, path.join(out, 'email-failure.png'), { width: 800 })
  screenshot(failure.html, path.join(out, 'email-failure-phone-dark.png'), { width: 390, dark: true })

  console.log('\n--- tablehaul.log ---')
  console.log(readFileSync(path.join(logDir, 'tablehaul.log'), 'utf8'))
} finally {
  await Promise.all([sourceServer.destroy(), targetServer.destroy()])
  if (!keepHtml) rmSync(work, { recursive: true, force: true })
}
