/** A file attached to a report e-mail (the run's log). */
export interface EmailAttachment {
  readonly filename: string
  /** A file to attach. */
  readonly path: string
  readonly contentType?: string
}

/** A rendered report e-mail, ready for any `Notifier`. */
export interface EmailMessage {
  readonly from: string
  readonly to: readonly string[]
  readonly cc: readonly string[]
  readonly subject: string
  readonly text: string
  readonly html: string
  readonly attachments: readonly EmailAttachment[]
  /** Extra headers, for mail filters (`X-Tablehaul-Status: failed`). */
  readonly headers?: Readonly<Record<string, string>>
  /** `high` marks a failed run as important in mail clients. @default 'normal' */
  readonly priority?: 'high' | 'normal'
}

/** Where a sent message went: an SMTP server's answer or the .eml file written. */
export interface Delivery {
  readonly via: string
  readonly detail: string
}

/**
 * Delivers a run's report. Implementations: `SmtpNotifier` (a mail server) and `OutboxNotifier` (.eml files
 * in a folder); a test or an embedding application can bring its own.
 */
export interface Notifier {
  /** Where messages go, for logs and summaries (never with a password). */
  readonly description: string
  send(message: EmailMessage, options?: { signal?: AbortSignal }): Promise<Delivery>
}
