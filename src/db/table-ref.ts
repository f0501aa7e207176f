import pg from 'pg'
import { escapeControl } from '../text.js'

/** A table's schema and name, exactly as PostgreSQL stores them (case and all). */
export class TableRef {
  constructor(
    readonly schema: string,
    readonly name: string,
  ) {}

  /** Parses `schema.table`, `"My Schema"."Odd.Name"` or `table` (schema `public`), folding unquoted parts to lower case as PostgreSQL does. */
  static parse(text: string, defaultSchema = 'public'): TableRef {
    const parts = splitQualifiedName(text)
    if (parts.length === 1) return new TableRef(defaultSchema, parts[0]!)
    if (parts.length === 2) return new TableRef(parts[0]!, parts[1]!)
    throw new Error(`"${text}" is not a table name: write schema.table`)
  }

  /** The name as SQL, always quoted: `"sales"."Orders"`. */
  get sql(): string {
    return `${pg.escapeIdentifier(this.schema)}.${pg.escapeIdentifier(this.name)}`
  }

  /** The name as people read it: quoted only where PostgreSQL would need quotes (`sales."Orders"`). */
  get display(): string {
    return `${displayIdentifier(this.schema)}.${displayIdentifier(this.name)}`
  }

  get key(): string {
    return JSON.stringify([this.schema, this.name])
  }

  equals(other: TableRef): boolean {
    return this.schema === other.schema && this.name === other.name
  }

  toString(): string {
    return this.display
  }

  toJSON(): string {
    return this.display
  }
}

/** Quotes an identifier for SQL; every identifier tablehaul writes goes through here or `TableRef.sql`. */
export function quoteIdent(name: string): string {
  return pg.escapeIdentifier(name)
}

export function quoteLiteral(value: string): string {
  return pg.escapeLiteral(value)
}

/** Quoted for reading, not for SQL: simple lower-case names stay bare. */
export function displayIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : escapeControl(pg.escapeIdentifier(name))
}

/**
 * Splits `a.b` into its parts. Quoted parts keep their case and may hold dots and doubled quotes;
 * unquoted parts are folded to lower case (PostgreSQL's rule for unquoted identifiers). `*` stays as is.
 */
export function splitQualifiedName(text: string): string[] {
  const parts: string[] = []
  let i = 0
  const s = text.trim()
  while (i <= s.length) {
    if (s[i] === '"') {
      let part = ''
      i++
      while (i < s.length) {
        if (s[i] === '"' && s[i + 1] === '"') {
          part += '"'
          i += 2
        } else if (s[i] === '"') break
        else part += s[i++]
      }
      if (s[i] !== '"') throw new Error(`"${text}" has an unterminated quoted name`)
      i++
      parts.push(part)
    } else {
      let end = s.indexOf('.', i)
      if (end === -1) end = s.length
      const part = s.slice(i, end).trim()
      if (part === '') throw new Error(`"${text}" has an empty name part`)
      parts.push(part.toLowerCase())
      i = end
    }
    if (i >= s.length) break
    if (s[i] !== '.') throw new Error(`"${text}" is not a table name: expected "." after a quoted name`)
    i++
  }
  return parts
}
