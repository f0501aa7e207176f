import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { after, before, test } from 'node:test'
import v8 from 'node:v8'
import vm from 'node:vm'
import { TransferJob } from '../../src/run/transfer-job.js'
import { waitFor } from '../helpers/cli.js'
import { testConfig } from '../helpers/config.js'
import { TestDatabase, testServers, withClient } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

function openFiles(): number {
  return readdirSync('/proc/self/fd').length
}

async function connectionsOf(url: string, database: string): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'tablehaul'`,
      [database],
    )
    return Number(rows[0]!.n)
  })
}

test('100 runs in one process leave no connections, file handles or memory behind', async () => {
  const source = await TestDatabase.create(servers.source, 'leak_src')
  const target = await TestDatabase.create(servers.target, 'leak_tgt')
  try {
    await source.sql(`
      CREATE TABLE public.a (id serial PRIMARY KEY, v text); INSERT INTO public.a (v) SELECT 'v' || g FROM generate_series(1, 200) g;
      CREATE TABLE public.b (id int PRIMARY KEY, a_id int REFERENCES public.a); INSERT INTO public.b SELECT g, g FROM generate_series(1, 100) g;
    `)
    const config = testConfig({ source: source.url, target: target.url, jobs: 2 })
    let atTen: { files: number; heap: number } | undefined
    for (let run = 1; run <= 100; run++) {
      const report = await new TransferJob(config, { notifier: null }).run()
      assert.equal(report.status, 'succeeded', `run ${run}: ${JSON.stringify(report.error ?? report.tables)}`)
      if (run === 10 || run === 100) {
        gc()
        const sample = { files: openFiles(), heap: process.memoryUsage().heapUsed }
        if (run === 10) atTen = sample
        else {
          assert.ok(
            sample.files <= atTen!.files + 2,
            `open files: ${atTen!.files} after 10 runs, ${sample.files} after 100`,
          )
          const grownMb = (sample.heap - atTen!.heap) / 1048576
          assert.ok(grownMb < 8, `heap grew ${grownMb.toFixed(1)} MB from run 10 to run 100`)
        }
      }
    }
    // Pools close when a run ends: the servers see none of its sessions afterwards (a backend leaves
    // pg_stat_activity a moment after its client said goodbye, so wait for that, not for a fixed time).
    await waitFor(
      async () =>
        (await connectionsOf(servers.source.url, source.name)) === 0 &&
        (await connectionsOf(servers.target.url, target.name)) === 0,
      10_000,
      'the sessions of the 100 runs to end',
    )
    assert.equal(await connectionsOf(servers.source.url, source.name), 0)
    assert.equal(await connectionsOf(servers.target.url, target.name), 0)
  } finally {
    await source.drop()
    await target.drop()
  }
})
