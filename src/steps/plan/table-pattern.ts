import { splitQualifiedName, TableRef } from '../../db/table-ref.js'
import { TablehaulError } from '../../errors.js'

/**
 * A `tables:` or `exclude:` entry: `schema.table`, with `*` (any run of characters) and `?` (one character)
 * allowed in either part. Unquoted parts are folded to lower case as PostgreSQL does; quote a part to keep
 * its case (`sales."Orders"`). A bare `table` means `public.table`.
 */
export class TablePattern {
  private readonly schemaMatcher: RegExp
  private readonly nameMatcher: RegExp
  readonly isExact: boolean

  private constructor(
    readonly text: string,
    readonly schema: string,
    readonly name: string,
  ) {
    this.schemaMatcher = globToRegExp(schema)
    this.nameMatcher = globToRegExp(name)
    this.isExact = !/[*?]/.test(schema) && !/[*?]/.test(name)
  }

  /** @param where names the config key in the error, e.g. `tables.2`. */
  static parse(text: string, where: string): TablePattern {
    let parts: string[]
    try {
      parts = splitQualifiedName(text)
    } catch (error) {
      throw new TablehaulError('CONFIG_INVALID', `${where}: ${(error as Error).message}`, {
        hint: 'write schema.table, quoting parts that have capitals or odd characters: sales."Orders"',
      })
    }
    if (parts.length === 1) return new TablePattern(text, 'public', parts[0]!)
    if (parts.length === 2) return new TablePattern(text, parts[0]!, parts[1]!)
    throw new TablehaulError('CONFIG_INVALID', `${where}: "${text}" has more than two parts`, {
      hint: 'write schema.table; a dot inside a name needs quotes: sales."a.b"',
    })
  }

  matches(ref: TableRef): boolean {
    return this.schemaMatcher.test(ref.schema) && this.nameMatcher.test(ref.name)
  }

  /** The exact table this pattern names (only when it has no wildcards). */
  get ref(): TableRef {
    return new TableRef(this.schema, this.name)
  }
}

function globToRegExp(glob: string): RegExp {
  const source = [...glob]
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('')
  return new RegExp(`^${source}$`, 'su')
}
