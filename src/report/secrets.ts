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
      const passwords = passwordsInUrl(value)
      if (passwords === undefined) secrets.push(value)
      else for (const password of passwords) secrets.push(password, encodeURIComponent(password))
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
      .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1:***@')
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

/** The password of a URL and the values of password-like query parameters; undefined if not a URL. */
function passwordsInUrl(value: string): string[] | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined
  try {
    const url = new URL(value)
    const found = url.password ? [decodeURIComponent(url.password)] : []
    for (const [key, param] of url.searchParams) {
      if (/pass|secret/i.test(key) && param) found.push(param)
    }
    return found
  } catch {
    return undefined
  }
}
