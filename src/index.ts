/**
 * tablehaul as a library: the same objects the CLI uses. A run is `new TransferJob(config).run()`; the
 * config comes from `loadConfig()` (file, environment, flags) or is built in code and checked with
 * `configSchema.parse()`. Every operation ends in a plain-data report rather than an exception.
 *
 * @packageDocumentation
 */

// A run, and what it tells its observers.
export { TransferJob, type TransferJobOptions, type RunOptions } from './run/transfer-job.js'
export {
  TransferEmitter,
  type TransferEvents,
  type TransferEventName,
  type RunStep,
  type PlannedTable,
} from './report/events.js'

// Looking before and after: a plan that writes nothing, a comparison of source and target.
export {
  planTransfer,
  type TransferPlan,
  type PlanTable,
  type PlanView,
  type PlanTransferOptions,
} from './steps/plan/plan-transfer.js'
export {
  Verifier,
  type VerifyOptions,
  type VerifyReport,
  type TableComparison,
} from './steps/verify/verifier.js'

// The seed's two calls: a query's result into a CSV file, a CSV file into a table.
export {
  exportCsv,
  importCsv,
  CsvExport,
  CsvImport,
  type CsvExportOptions,
  type CsvImportOptions,
  type CsvTransferOptions,
} from './csv/csv-files.js'

// Configuration.
export {
  loadConfig,
  ENVIRONMENT_VARIABLES,
  type LoadConfigOptions,
  type LoadedConfig,
  type ConfigFlags,
} from './config/load.js'
export {
  configSchema,
  configJsonSchema,
  type Config,
  type ConfigInput,
  type TableEntry,
  type Endpoint,
  type LoadMode,
  type EmailConfig,
} from './config/schema.js'

// Reports and errors.
export {
  type RunReport,
  type RunStatus,
  type TableResult,
  type TableStatus,
  type SkipReason,
  type ErrorInfo,
  type NotificationOutcome,
} from './report/run-report.js'
export { RunLog, type RunLogOptions } from './report/run-log.js'
export {
  TablehaulError,
  ERROR_CODES,
  isTablehaulError,
  type ErrorCode,
  type TablehaulErrorOptions,
} from './errors.js'

// Where reports go.
export type { Notifier, EmailMessage, EmailAttachment, Delivery } from './notify/notifier.js'
export { SmtpNotifier, type SmtpNotifierOptions } from './notify/smtp-notifier.js'
export { OutboxNotifier } from './notify/outbox-notifier.js'
export { renderEmail, emailSubject, type RenderEmailOptions } from './notify/email.js'

// The embedded local PostgreSQL, the default target.
export { LocalServer, type LocalServerOptions, type LocalServerStatus } from './local/local-server.js'
