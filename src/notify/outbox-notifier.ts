import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import {
  PRIVATE_FILE_MODE,
  PRIVATE_FOLDER_MODE,
  isDiskFull,
  makeDirectory,
  writeFailureText,
} from '../files.js'
import path from 'node:path'
import type { SendMailOptions } from 'nodemailer'
import { TablehaulError } from '../errors.js'
import type { Delivery, EmailMessage, Notifier } from './notifier.js'

/**
 * Writes each message as an `.eml` file (RFC 5322, what a mail client opens) into a folder: the demo's
 * mailbox, and a way to see a configuration's e-mail without sending it.
 */
export class OutboxNotifier implements Notifier {
  readonly description: string

  /**
   * @param options.keep How many messages the folder keeps: after each one is written, the oldest beyond
   *   this are deleted (a nightly job must not fill the disk). @default every one
   */
  constructor(
    private readonly dir: string,
    private readonly options: { readonly keep?: number | undefined } = {},
  ) {
    this.description = `outbox ${dir}`
  }

  async send(message: EmailMessage): Promise<Delivery> {
    const { default: nodemailer } = await loadNodemailer()
    const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
    let raw: Buffer
    try {
      const info = await transport.sendMail(toNodemailer(message))
      raw = info.message as Buffer
    } catch (error) {
      throw new TablehaulError('NOTIFY_FAILED', `cannot build the e-mail: ${(error as Error).message}`, {
        cause: error,
      })
    }
    // To the millisecond: two runs in one second must not overwrite each other's message.
    const stamp = new Date().toISOString().replace(/[-:.]/g, '')
    const file = path.join(this.dir, `${stamp}-${slug(message.subject)}.eml`)
    try {
      makeDirectory(this.dir, PRIVATE_FOLDER_MODE)
      // Written under a temporary name and renamed, so a reader never sees half a message.
      writeFileSync(`${file}.tmp`, raw, { mode: PRIVATE_FILE_MODE })
      renameSync(`${file}.tmp`, file)
      this.prune()
      return { via: this.description, detail: file }
    } catch (error) {
      // Half a message (a disk that filled while it was written) is no message: every night would add one.
      try {
        rmSync(`${file}.tmp`, { force: true })
      } catch {
        // the message's own error below is the news
      }
      throw new TablehaulError(
        'NOTIFY_FAILED',
        `cannot write the e-mail into ${this.dir}: ${writeFailureText(error)}`,
        {
          cause: error,
          hint: isDiskFull(error)
            ? `free space on the disk of ${this.dir}, or set email.outbox to a folder on a disk with room`
            : 'check that the outbox folder is writable',
        },
      )
    }
  }

  /** Deletes the oldest messages beyond `keep`; names start with their time, so name order is age order. */
  private prune(): void {
    const keep = this.options.keep
    if (keep === undefined) return
    const messages = readdirSync(this.dir)
      .filter((name) => name.endsWith('.eml'))
      .sort()
    for (const name of messages.slice(0, Math.max(0, messages.length - keep)))
      rmSync(path.join(this.dir, name), { force: true })
  }
}

export function toNodemailer(message: EmailMessage): SendMailOptions {
  return {
    from: message.from,
    to: [...message.to],
    cc: message.cc.length ? [...message.cc] : undefined,
    subject: message.subject,
    text: message.text,
    html: message.html,
    headers: message.headers ? { ...message.headers } : undefined,
    priority: message.priority ?? 'normal',
    attachments: message.attachments.map((a) => ({
      filename: a.filename,
      path: a.path,
      contentType: a.contentType,
    })),
  }
}

function slug(subject: string): string {
  return (
    subject
      .replace(/^\[tablehaul\]\s*/, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 60) || 'report'
  )
}

/** nodemailer is loaded when the report is sent, not at start: it would add ~15 MB to the whole run's memory. */
export function loadNodemailer(): Promise<typeof import('nodemailer')> {
  return import('nodemailer')
}
