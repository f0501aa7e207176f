import { formatDuration } from '../format.js'
import { TablehaulError } from '../errors.js'
import { redactUrl } from '../db/database.js'
import type { Delivery, EmailMessage, Notifier } from './notifier.js'
import { loadNodemailer, toNodemailer } from './outbox-notifier.js'

/** How `SmtpNotifier` reaches its mail server. */
export interface SmtpNotifierOptions {
  /**
   * `smtp://user:password@host:587` (plain, upgraded with STARTTLS: required when the URL has a login, so a
   * password never crosses the network in clear) or `smtps://user:password@host:465` (TLS from the first
   * byte). nodemailer's URL parameters apply, e.g. `?requireTLS=false` for a relay without TLS.
   */
  readonly url: string
  /** Bounds connecting, the greeting and every wait for the server; the whole send gets three times it. @default 30000 */
  readonly timeoutMs?: number
  /**
   * Refuse a server whose certificate is not trusted. Trust a private CA or a self-signed certificate with
   * NODE_EXTRA_CA_CERTS=/path/ca.pem rather than turning this off. @default true
   */
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
    const { default: nodemailer } = await loadNodemailer()
    const transport = nodemailer.createTransport({
      url: this.options.url,
      // Options given in the URL's query win over these defaults (nodemailer merges the URL last).
      requireTLS: hasLogin(this.options.url) && /^smtp:/i.test(this.options.url),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      // Longer than the greeting's, so that a server that accepts the connection and says nothing is
      // reported as such ("Greeting never received"), not as a bare socket "Timeout" (equal timers race).
      socketTimeout: 2 * timeout,
      dnsTimeout: timeout,
      tls: { rejectUnauthorized: this.options.tlsRejectUnauthorized ?? true },
    })
    const deadline = AbortSignal.timeout(3 * timeout)
    const signals = [deadline, options.signal].filter((s): s is AbortSignal => s !== undefined)
    try {
      const info = await transport.sendMail({ ...toNodemailer(message), signal: AbortSignal.any(signals) })
      const rejected = (info.rejected ?? []).map(String)
      if (rejected.length > 0) {
        throw Object.assign(new Error(`the server refused the recipients ${rejected.join(', ')}`), {
          code: 'EENVELOPE',
        })
      }
      return {
        via: this.description,
        detail: `${this.description}: ${String(info.response ?? info.messageId)}`,
      }
    } catch (error) {
      const reason = deadline.aborted
        ? `the send did not finish within ${formatDuration(3 * timeout)}`
        : `${(error as Error).message}${smtpLabel(error)}`
      throw new TablehaulError(
        'NOTIFY_FAILED',
        `the e-mail could not be sent through ${this.description}: ${reason}`,
        { cause: error, hint: deadline.aborted ? TIMEOUT_HINT : smtpHint(error) },
      )
    } finally {
      transport.close()
    }
  }
}

const TIMEOUT_HINT =
  'the mail server did not answer in time: check the host and port (465 is smtps://, 587 smtp://), or raise email.timeout'

function hasLogin(url: string): boolean {
  return /^[a-z]+:\/\/[^/@]+@/i.test(url)
}

/** ` (SMTP EAUTH 535)`: nodemailer's code and the server's reply code, named as SMTP's. */
function smtpLabel(error: unknown): string {
  const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown }
  const parts = [code, responseCode].filter((part) => typeof part === 'string' || typeof part === 'number')
  return parts.length ? ` (SMTP ${parts.join(' ')})` : ''
}

function smtpHint(error: unknown): string {
  const code = (error as { code?: string } | null)?.code
  const message = (error as Error | null)?.message ?? ''
  if (/certificate|self.signed|unable to verify|altnames/i.test(message)) {
    return "the mail server's certificate is not trusted: give its CA (or the certificate itself) to Node with NODE_EXTRA_CA_CERTS=/path/ca.pem, or set email.tlsRejectUnauthorized: false for a server you know"
  }
  if (code === 'EAUTH' || code === 'ENOAUTH') return 'check the user and password in email.smtp'
  if (code === 'ETLS' || /STARTTLS/i.test(message)) {
    return 'the mail server does not offer STARTTLS: use smtps:// (port 465), or add ?requireTLS=false to email.smtp for a relay you trust on a private network'
  }
  if (code === 'ECONNREFUSED' || code === 'ECONNECTION' || code === 'ESOCKET' || code === 'EDNS') {
    return 'check the host and port in email.smtp and that the mail server accepts connections from this machine'
  }
  if (code === 'ETIMEDOUT' || /timeout|timed out|never received/i.test(message)) return TIMEOUT_HINT
  if (code === 'EENVELOPE') return 'check the addresses in email.from, email.to and email.cc'
  if (code === 'EMESSAGE')
    return 'the mail server refused the message; ask its administrator why (size limit, sender policy)'
  return 'check the email settings (`tablehaul config --show`)'
}
