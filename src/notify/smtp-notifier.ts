import nodemailer from 'nodemailer'
import { TablehaulError } from '../errors.js'
import { redactUrl } from '../db/database.js'
import type { Delivery, EmailMessage, Notifier } from './notifier.js'
import { toNodemailer } from './outbox-notifier.js'

export interface SmtpNotifierOptions {
  /** `smtp://host:587` (STARTTLS when the server offers it) or `smtps://user:password@host:465` (TLS). */
  readonly url: string
  /** Bounds connecting, the greeting and every socket wait. @default 30000 */
  readonly timeoutMs?: number
  /** @default true */
  readonly tlsRejectUnauthorized?: boolean
}

/** Sends the report through an SMTP server with nodemailer. */
export class SmtpNotifier implements Notifier {
  readonly description: string

  constructor(private readonly options: SmtpNotifierOptions) {
    this.description = `smtp ${redactUrl(options.url)}`
  }

  async send(message: EmailMessage, options: { signal?: AbortSignal } = {}): Promise<Delivery> {
    const timeout = this.options.timeoutMs ?? 30_000
    const transport = nodemailer.createTransport({
      url: this.options.url,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      dnsTimeout: timeout,
      tls: { rejectUnauthorized: this.options.tlsRejectUnauthorized ?? true },
    })
    const abort = () => transport.close()
    options.signal?.addEventListener('abort', abort, { once: true })
    try {
      const info = await transport.sendMail(toNodemailer(message))
      return { via: this.description, detail: String(info.response ?? info.messageId) }
    } catch (error) {
      throw new TablehaulError(
        'NOTIFY_FAILED',
        `the e-mail could not be sent through ${this.description}: ${(error as Error).message}`,
        {
          cause: error,
          hint: smtpHint(error),
        },
      )
    } finally {
      options.signal?.removeEventListener('abort', abort)
      transport.close()
    }
  }
}

function smtpHint(error: unknown): string {
  const code = (error as { code?: string } | null)?.code
  if (code === 'EAUTH') return 'check the user and password in email.smtp'
  if (code === 'ESOCKET' || code === 'ECONNECTION' || code === 'ECONNREFUSED') {
    return 'check the host and port in email.smtp and that the mail server accepts connections from this machine'
  }
  if (code === 'ETIMEDOUT')
    return 'the mail server did not answer in time; check the host and port, or raise email.timeout'
  if (code === 'EENVELOPE') return 'check the addresses in email.from, email.to and email.cc'
  if (code === 'ETLS' || /certificate|self.signed/i.test((error as Error)?.message ?? '')) {
    return "the mail server's certificate is not trusted; install its CA, or set email.tlsRejectUnauthorized: false for a server you know"
  }
  return 'check the email settings (`tablehaul config --show`)'
}
