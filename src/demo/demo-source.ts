import { randomBytes } from 'node:crypto'
import { mkdtempSync, chmodSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { PostgresCluster, freePort } from '../local/postgres-cluster.js'

/**
 * The demo's stand-in for a remote server: a throwaway PostgreSQL in a temporary folder, filled with the
 * sample sales schema (src/demo/sales.sql), removed again by `destroy()`.
 */
export class DemoSource {
  private cluster: PostgresCluster | undefined
  private folder: string | undefined
  private connectionUrl: string | undefined

  get url(): string {
    if (!this.connectionUrl) throw new Error('the demo source is not started')
    return this.connectionUrl
  }

  async start(): Promise<void> {
    this.folder = mkdtempSync(path.join(os.tmpdir(), 'tablehaul-demo-'))
    // As root, the server runs as the postgres OS user, which must be able to enter the folder.
    chmodSync(this.folder, 0o755)
    const port = await freePort()
    // Random, not a word: every text tablehaul writes hides the password, so 'demo' would be cut out of
    // paths and addresses (tablehaul-***@localhost).
    const password = randomBytes(12).toString('hex')
    this.cluster = new PostgresCluster({
      dataDir: path.join(this.folder, 'data'),
      port,
      logFile: path.join(this.folder, 'postgres.log'),
    })
    await this.cluster.initialise({
      password,
      settings: { fsync: 'off', synchronous_commit: 'off', shared_buffers: "'128MB'" },
    })
    await this.cluster.start()
    this.connectionUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`
  }

  /** Creates the sample schema and its rows. */
  async fill(): Promise<void> {
    await this.runFile('sales.sql')
  }

  /** A day of writes on the sample schema (changes.sql): a few hundred rows updated, inserted and deleted. */
  async change(): Promise<void> {
    await this.runFile('changes.sql')
  }

  private async runFile(name: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.url })
    await client.connect()
    try {
      await client.query(readFileSync(new URL(`./${name}`, import.meta.url), 'utf8'))
    } finally {
      await client.end()
    }
  }

  async destroy(): Promise<void> {
    await this.cluster?.stop('immediate').catch(() => {})
    if (this.folder) rmSync(this.folder, { recursive: true, force: true })
  }
}
