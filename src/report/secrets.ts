/**
 * The last line of defence for promise 8: whatever text leaves the process (log records, e-mails, error
 * output) goes through a Redactor that knows the run's secrets and hides credentials in URLs.
 */
export class Redactor {
  private readonly secrets: string[]
  private readonly shortSecrets: RegExp | undefined

  constructor(secrets: Iterable<string | undefined> = []) {
    const all = [...new Set([...secrets].filter((s): s is string => typeof s === 'string' && s !== ''))]
    // Longest first, so a secret that contains another is hidden whole.
    this.secrets = all.filter((s) => s.length >= SHORT_SECRET).sort((a, b) => b.length - a.length)
    // A password of one or two characters hidden inside every word would garble all text ("a" in "table"):
    // it is hidden wherever it stands on its own, between characters that are not letters or digits.
    const short = all.filter((s) => s.length < SHORT_SECRET)
    this.shortSecrets = short.length
      ? new RegExp(`(?<![\\p{L}\\p{N}])(?:${short.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}])`, 'gu')
      : undefined
  }

  /**
   * Secrets found in URLs (`scheme://user:password@host`, `?password=`) and given values such as
   * `source.password`.
   */
  static fromValues(values: Iterable<string | undefined>): Redactor {
    const secrets: string[] = []
    for (const value of values) {
      if (!value) continue
      const login = loginOfUrl(value)
      if (login === undefined) {
        secrets.push(...encodedForms(value))
        continue
      }
      for (const password of login.passwords) secrets.push(...encodedForms(password))
      if (login.password !== undefined) secrets.push(...authForms(login))
    }
    return new Redactor(secrets)
  }

  /**
   * Every secret a run can hold: the passwords in the source, target and SMTP URLs and settings, and
   * PGPASSWORD, which node-postgres reads from the environment by itself when no other password is given.
   */
  static forConfig(config: SecretSettings, env: NodeJS.ProcessEnv = process.env): Redactor {
    return Redactor.fromValues([
      config.source?.url,
      config.source?.password,
      config.target?.url,
      config.target?.password,
      config.email?.smtp,
      env.PGPASSWORD,
    ])
  }

  text(value: string): string {
    let result = value
      // A scheme of bounded length: unbounded, a long run of letters (a bad value quoted in an error) is
      // scanned again from each of its characters, which takes minutes for a few hundred kilobytes.
      .replace(/([a-z][a-z0-9+.-]{0,31}:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1:***@')
      .replace(/([?&][a-z_]*(?:pass|secret)[a-z_]*=)[^&\s#]+/gi, '$1***')
    for (const secret of this.secrets) result = result.split(secret).join('***')
    if (this.shortSecrets) result = result.replace(this.shortSecrets, '***')
    return result
  }

  /** A deep copy with every string redacted. */
  value<T>(input: T): T {
    if (typeof input === 'string') return this.text(input) as T
    if (Array.isArray(input)) return input.map((item) => this.value(item)) as T
    if (input && typeof input === 'object' && !(input instanceof Date)) {
      return Object.fromEntries(Object.entries(input).map(([key, item]) => [key, this.value(item)])) as T
    }
    return input
  }
}

/** Secrets shorter than this are hidden where they stand alone, not inside words. */
const SHORT_SECRET = 3

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** The parts of a configuration that can hold a secret. */
export interface SecretSettings {
  readonly source?: { readonly url?: string | undefined; readonly password?: string | undefined } | undefined
  readonly target?: { readonly url?: string | undefined; readonly password?: string | undefined } | undefined
  readonly email?: { readonly smtp?: string | undefined } | undefined
}

/** The user, password and password-like query parameters of a URL; undefined if not a URL. */
function loginOfUrl(
  value: string,
): { scheme: string; user: string; password: string | undefined; passwords: string[] } | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined
  try {
    const url = new URL(value)
    const password = url.password ? decodeURIComponent(url.password) : undefined
    // As written in the URL too: its own percent-encoding need not be encodeURIComponent's.
    const passwords = password !== undefined ? [password, url.password] : []
    for (const [key, param] of url.searchParams) {
      if (/pass|secret/i.test(key) && param) passwords.push(param)
    }
    return {
      scheme: url.protocol.replace(/:$/, ''),
      user: decodeURIComponent(url.username),
      password,
      passwords,
    }
  } catch {
    return undefined
  }
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64')
}

/** A secret as it may travel: plain, URL-encoded, base64 (SMTP AUTH LOGIN sends the password so). */
function encodedForms(secret: string): string[] {
  return [secret, encodeURIComponent(secret), base64(secret)]
}

/**
 * A login as SMTP sends it, which a server may echo in a reply that ends up in an error: AUTH PLAIN's
 * base64 of `authzid NUL user NUL password` (authzid empty, or the user again), and AUTH LOGIN's base64 of
 * the user (with the password's own, above).
 */
function authForms(login: { scheme: string; user: string; password: string | undefined }): string[] {
  const { user, password } = login
  if (password === undefined) return []
  const forms = [base64(`\0${user}\0${password}`), base64(`${user}\0${user}\0${password}`)]
  if (/^smtps?$/i.test(login.scheme) && user) forms.push(base64(user))
  return forms
}
