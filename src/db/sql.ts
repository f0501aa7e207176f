import { readFileSync } from 'node:fs'

const cache = new Map<string, string>()

/** The text of `src/db/sql/<name>.sql`: statements longer than a line live there, runnable as-is in psql. */
export function sqlFile(name: string): string {
  let text = cache.get(name)
  if (text === undefined) {
    text = readFileSync(new URL(`./sql/${name}.sql`, import.meta.url), 'utf8')
    cache.set(name, text)
  }
  return text
}
