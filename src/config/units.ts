/** Durations and sizes as people write them in a config file: `30s`, `2m`, `1h`, `512MB`, `2GB`. */

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 }
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
  tb: 1024 ** 4,
}

/** Parses `250ms`, `30s`, `2m`, `1h` or a bare number of seconds into milliseconds; undefined if malformed. */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/i.exec(value)
  if (!match) return undefined
  const unit = (match[2] ?? 's').toLowerCase()
  return Math.round(Number(match[1]) * (DURATION_UNITS_MS[unit] ?? 1000))
}

/** Parses `512MB`, `2GB`, `100kB` or a bare number of bytes; undefined if malformed. */
export function parseSizeBytes(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?b)?\s*$/i.exec(value)
  if (!match) return undefined
  return Math.round(Number(match[1]) * (SIZE_UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1))
}

// Written for people by src/format.ts; formatRate is re-exported for the callers that met it here.
export { formatRate } from '../format.js'
