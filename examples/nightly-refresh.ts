import { TransferJob, Verifier, loadConfig } from 'tablehaul'

// The configuration the CLI would use: ./tablehaul.yaml, then TABLEHAUL_* variables, then these flags.
const { config } = loadConfig({ flags: { jobs: 2 } })

const job = new TransferJob(config)
job.on('table.copied', (table) => console.log(`${table.table}: ${table.rows} rows in ${table.durationMs} ms`))
job.on('table.failed', (table) => console.error(`${table.table} failed: ${table.error?.message}`))

const report = await job.run()
console.log(
  `run ${report.status}: ${report.totals.copied}/${report.totals.tables} tables, log ${report.logFile}`,
)

if (report.status === 'succeeded') {
  const check = await new Verifier(config).verify({ checksum: true })
  for (const table of check.tables) console.log(`${table.table}: ${table.status}`)
  process.exitCode = check.status === 'same' ? 0 : 1
} else {
  process.exitCode = 1
}
