import { exportCsv, importCsv, loadConfig } from 'tablehaul'

const { config } = loadConfig()

// A query's result into a compressed CSV file, streamed: memory stays flat whatever the size.
const exported = await exportCsv(config, {
  query: 'select * from sales.stores_sales',
  file: 'stores_sales.csv.gz',
})
console.log(`export ${exported.status}: ${exported.totals.rows} rows`)

// And back into a table of the target, in one transaction (a bad line leaves the table as it was).
const imported = await importCsv(config, {
  table: 'sales.stores_sales',
  file: 'stores_sales.csv.gz',
  mode: 'replace',
})
console.log(`import ${imported.status}: ${imported.totals.rows} rows`)
if (imported.error) console.error(`${imported.error.message}; ${imported.error.hint}`)
process.exitCode = exported.status === 'succeeded' && imported.status === 'succeeded' ? 0 : 1
