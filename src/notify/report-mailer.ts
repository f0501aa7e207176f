import type { EmailConfig } from '../config/schema.js'
import { errorInfo, type NotificationOutcome, type RunReport } from '../report/run-report.js'
import type { Redactor } from '../report/secrets.js'
import { renderEmail } from './email.js'
import type { Delivery, EmailMessage, Notifier } from './notifier.js'
import { OutboxNotifier } from './outbox-notifier.js'
import { SmtpNotifier } from './smtp-notifier.js'

/** The notifiers the email settings ask for: an SMTP server, an outbox folder, or both. */
export function notifierFromConfig(
  email: EmailConfig | undefined,
  options: { keepMessages?: number } = {},
): Notifier | undefined {
  if (!email) return undefined
  const notifiers: Notifier[] = []
  if (email.smtp) {
    notifiers.push(
      new SmtpNotifier({
        url: email.smtp,
        timeoutMs: email.timeout,
        tlsRejectUnauthorized: email.tlsRejectUnauthorized,
      }),
    )
  }
  if (email.outbox) notifiers.push(new OutboxNotifier(email.outbox, { keep: options.keepMessages }))
  if (notifiers.length === 0) return undefined
  return notifiers.length === 1 ? notifiers[0] : new AllNotifiers(notifiers)
}

/** Sends through every notifier; fails if any of them fails, after trying them all. */
class AllNotifiers implements Notifier {
  readonly description: string

  constructor(private readonly notifiers: readonly Notifier[]) {
    this.description = notifiers.map((n) => n.description).join(' + ')
  }

  async send(message: EmailMessage, options?: { signal?: AbortSignal }): Promise<Delivery> {
    const results = await Promise.allSettled(this.notifiers.map((n) => n.send(message, options)))
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure) throw failure.reason
    const deliveries = results.map((r) => (r as PromiseFulfilledResult<Delivery>).value)
    return { via: this.description, detail: deliveries.map((d) => d.detail).join('; ') }
  }
}

/** Sends the run's report as `email.on` asks; never throws: a failure to send is an outcome to report. */
export async function mailReport(
  report: RunReport,
  email: EmailConfig | undefined,
  notifier: Notifier | undefined,
  redactor: Redactor,
): Promise<NotificationOutcome> {
  if (!email) {
    return {
      status: 'skipped',
      detail: 'no e-mail configured (set email.to with email.smtp or email.outbox)',
    }
  }
  const wanted = email.on === 'always' || (email.on === 'failure' && report.status !== 'succeeded')
  if (!wanted) return { status: 'skipped', detail: `email.on is ${email.on}` }
  if (!notifier) {
    if (email.smtp || email.outbox) return { status: 'skipped', detail: 'no notifier given' }
    // Recipients without a way to reach them: the user expects a mail that will never come.
    return {
      status: 'failed',
      detail: 'no way to send',
      error: {
        code: 'NOTIFY_FAILED',
        message:
          'the e-mail settings say whom to tell but not how: neither email.smtp nor email.outbox is set',
        hint: 'set email.smtp (or --smtp-url, TABLEHAUL_SMTP_URL), or email.outbox to write .eml files',
      },
    }
  }
  if (email.to.length === 0 && !(notifier instanceof OutboxNotifier)) {
    return {
      status: 'failed',
      detail: 'no recipients',
      error: {
        code: 'NOTIFY_FAILED',
        message: 'email.to lists no recipient',
        hint: 'set email.to (or --email-to, TABLEHAUL_EMAIL_TO)',
      },
    }
  }
  try {
    const message = redactor.value(
      renderEmail(report, {
        from: email.from,
        to: email.to,
        cc: email.cc,
        attachLog: email.attachLog,
      }),
    )
    const delivery = await notifier.send(message)
    return { status: 'sent', detail: redactor.text(delivery.detail) }
  } catch (error) {
    return { status: 'failed', detail: notifier.description, error: redactor.value(errorInfo(error)) }
  }
}
