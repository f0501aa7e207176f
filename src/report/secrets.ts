/**
 * The last line of defence for promise 8: whatever text leaves the process (log records, e-mails, error
 * output) goes through a Redactor that knows the run's secrets and hides credentials in URLs.
 */
export class Redactor {
  private readonly secrets: string[]

  constructor(secrets: Iterable<string | undefined> = []) {
    // Longest first, so a secret that contains another is hidden whole.
    this.secrets = [
      ...new Set([...secrets].filter((s): s is string => typeof s === 'string' && s.length >= 3)),
    ].sort((a, b) => b.length - a.length)
  }

  /** Secrets found in URLs (`scheme://user:password@host`) and given values such as `source.password`. */
  static fromValues(values: Iterable<string | undefined>): Redactor {
    const secrets: string[] = []
    for (const value of values) {
      if (!value) continue
      const password = passwordInUrl(value)
      if (password === undefined) secrets.push(value)
      else if (password) secrets.push(password, encodeURIComponent(password))
    }
    return new Redactor(secrets)
  }

  text(value: string): string {
    let result = value.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1:***@')
    for (const secret of this.secrets) result = result.split(secret).join('***')
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

function passwordInUrl(value: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined
  try {
    const url = new URL(value)
    return decodeURIComponent(url.password)
  } catch {
    return undefined
  }
}
