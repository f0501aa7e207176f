import { writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { type ParsedMail, simpleParser } from 'mailparser'
import selfsigned from 'selfsigned'
import { SMTPServer, type SMTPServerOptions } from 'smtp-server'
import { tempDir } from './config.js'

/** A message as the server received it: the SMTP envelope, the raw source and the parsed message. */
export interface ReceivedMail {
  readonly envelope: { readonly from: string; readonly to: readonly string[] }
  /** Whether the message came over TLS (STARTTLS or smtps). */
  readonly secure: boolean
  /** The user that authenticated, if any. */
  readonly user: string | undefined
  readonly raw: string
  readonly parsed: ParsedMail
}

export interface MailServerOptions {
  /** none: plain SMTP, STARTTLS not offered; starttls: plain, upgraded by STARTTLS; implicit: smtps. @default 'none' */
  readonly tls?: 'none' | 'starttls' | 'implicit'
  /** The server's certificate for starttls and implicit. @default a new self-signed one for localhost */
  readonly certificate?: TestCertificate
  /** When given, AUTH is required and only this login is accepted. */
  readonly auth?: { readonly user: string; readonly pass: string }
  /** Only these AUTH mechanisms are offered. @default PLAIN and LOGIN */
  readonly authMethods?: readonly string[]
  /**
   * A refused login is answered with the AUTH exchange quoted back, as some servers do: AUTH PLAIN's and
   * AUTH LOGIN's base64 tokens and the login URL-encoded.
   */
  readonly echoAuth?: boolean
}

/** A real SMTP server (`smtp-server`) on loopback that keeps what it receives, parsed with `mailparser`. */
export class MailServer {
  readonly messages: ReceivedMail[] = []
  /** Logins the server refused. */
  readonly refusedLogins: string[] = []
  private waiters: Array<() => void> = []

  private constructor(
    private readonly server: SMTPServer,
    readonly port: number,
    readonly tls: 'none' | 'starttls' | 'implicit',
  ) {}

  static async start(options: MailServerOptions = {}): Promise<MailServer> {
    const tls = options.tls ?? 'none'
    const certificate =
      tls === 'none' ? undefined : (options.certificate ?? selfSignedCertificate('localhost'))
    const holder: { current?: MailServer } = {}
    const serverOptions: SMTPServerOptions = {
      secure: tls === 'implicit',
      ...(certificate ? { key: certificate.key, cert: certificate.cert } : {}),
      disabledCommands: tls === 'none' ? ['STARTTLS'] : [],
      authOptional: !options.auth,
      allowInsecureAuth: tls === 'none',
      logger: false,
      ...(options.authMethods ? { authMethods: [...options.authMethods] } : {}),
      onAuth(auth, _session, callback) {
        if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
          callback(null, { user: auth.username })
          return
        }
        holder.current?.refusedLogins.push(auth.username ?? '')
        callback(
          new Error(
            options.echoAuth
              ? echoOf(auth.username ?? '', auth.password ?? '')
              : 'Invalid username or password',
          ),
        )
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = []
        stream.on('data', (chunk: Buffer) => chunks.push(chunk))
        stream.on('end', () => {
          const raw = Buffer.concat(chunks)
          simpleParser(raw).then(
            (parsed) => {
              holder.current?.receive({
                envelope: {
                  from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                  to: session.envelope.rcptTo.map((r) => r.address),
                },
                secure: session.secure,
                user: typeof session.user === 'string' ? session.user : undefined,
                raw: raw.toString('utf8'),
                parsed,
              })
              callback()
            },
            (error: Error) => callback(error),
          )
        })
      },
    }
    const server = new SMTPServer(serverOptions)
    const port = await new Promise<number>((resolve, reject) => {
      server.on('error', reject)
      server.listen(0, '127.0.0.1', () => resolve((server.server.address() as net.AddressInfo).port))
    })
    holder.current = new MailServer(server, port, tls)
    return holder.current
  }

  /** `smtp://` or `smtps://` URL of this server on `host`, with a login when given. */
  url(options: { host?: string; user?: string; pass?: string } = {}): string {
    const scheme = this.tls === 'implicit' ? 'smtps' : 'smtp'
    const login = options.user
      ? `${encodeURIComponent(options.user)}${options.pass !== undefined ? `:${encodeURIComponent(options.pass)}` : ''}@`
      : ''
    return `${scheme}://${login}${options.host ?? '127.0.0.1'}:${this.port}`
  }

  /** The `count`-th message (1-based) once it has arrived. */
  async message(count = 1, timeoutMs = 30_000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs
    while (this.messages.length < count) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for message ${count} (got ${this.messages.length})`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return this.messages[count - 1]!
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private receive(mail: ReceivedMail): void {
    this.messages.push(mail)
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }
}

export interface TestCertificate {
  readonly key: string
  readonly cert: string
  /** The certificate in a PEM file, for NODE_EXTRA_CA_CERTS. */
  readonly certFile: string
}

/** A new self-signed certificate for `host` (and 127.0.0.1), made at test time. */
export function selfSignedCertificate(host: string): TestCertificate {
  const pems = selfsigned.generate([{ name: 'commonName', value: host }], {
    keySize: 2048,
    days: 2,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: host },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  })
  const certFile = path.join(tempDir('tablehaul-cert-'), 'smtp-ca.pem')
  writeFileSync(certFile, pems.cert)
  return { key: pems.private, cert: pems.cert, certFile }
}

/** A TCP server that accepts connections and never says a word: a mail server that hangs. */
export async function silentServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  })
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  )
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** The text of every part of a message a person or program could read: headers, bodies, attachments. */
export function everythingIn(mail: ReceivedMail): string {
  const { parsed } = mail
  const headers = [...parsed.headers.entries()].map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
  return [
    mail.raw,
    ...headers,
    parsed.subject ?? '',
    parsed.text ?? '',
    typeof parsed.html === 'string' ? parsed.html : '',
    ...parsed.attachments.map((a) => `${a.filename ?? ''}\n${a.content.toString('utf8')}`),
  ].join('\n')
}

/** A refusal that quotes the login the way it travelled. */
function echoOf(user: string, pass: string): string {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')
  return [
    `Invalid login; got AUTH PLAIN ${b64(`\0${user}\0${pass}`)} (or ${b64(`${user}\0${user}\0${pass}`)})`,
    `AUTH LOGIN ${b64(user)} ${b64(pass)}`,
    `user=${encodeURIComponent(user)}&pass=${encodeURIComponent(pass)}`,
  ].join('; ')
}
