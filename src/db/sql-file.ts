import { readFileSync } from 'node:fs'

const cache = new Map<string, string>()

/**
 * A reader of the `.sql` files in one folder (`sqlFolder(new URL('./sql/', import.meta.url))`): statements
 * longer than a line live there, runnable as-is in psql, named after what they return.
 */
export function sqlFolder(folder: URL): (name: string) => string {
  return (name) => {
    const url = new URL(`${name}.sql`, folder).href
    let text = cache.get(url)
    if (text === undefined) {
      text = readFileSync(new URL(url), 'utf8')
      cache.set(url, text)
    }
    return text
  }
}
