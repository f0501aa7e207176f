import { quoteLiteral } from '../db/table-ref.js'
import type { BaseTypeDefinition } from './catalog.js'

const ALIGNMENT: Record<string, string> = { c: 'char', s: 'int2', i: 'int4', d: 'double' }
const STORAGE: Record<string, string> = { p: 'plain', e: 'external', m: 'main', x: 'extended' }

/**
 * Why a base type made by hand cannot be made on another server, or undefined when it can: its I/O
 * functions in LANGUAGE internal name a function every server of the same major has built in (int8in,
 * say), and those in SQL or a procedural language are made from their source; a C function needs its
 * shared library, which only the target's server can provide.
 */
export function baseTypeProblem(display: string, base: BaseTypeDefinition): string | undefined {
  const compiled = base.functions.filter((fn) => fn.language === 'c')
  if (compiled.length === 0) return undefined
  const libraries = [...new Set(compiled.map((fn) => fn.library ?? fn.language))]
  return (
    `${display} is a base type written in C outside any extension: its functions ` +
    `${compiled.map((fn) => fn.signature).join(', ')} need the library ${libraries.join(', ')} on the target's server; ` +
    `install it there and create the type, then run again`
  )
}

/**
 * A base type as pg_dump makes it: a shell type (`CREATE TYPE name`), its I/O functions (which take or
 * return it, so they need the shell), then CREATE TYPE with every option pg_type holds. `name` is the
 * type's schema-qualified, quoted name; SUBSCRIPT only exists from PostgreSQL 14.
 */
export function baseTypeStatements(name: string, base: BaseTypeDefinition, targetVersion: number): string[] {
  const options = [`INPUT = ${base.input}`, `OUTPUT = ${base.output}`]
  if (base.receive) options.push(`RECEIVE = ${base.receive}`)
  if (base.send) options.push(`SEND = ${base.send}`)
  if (base.typmod_in) options.push(`TYPMOD_IN = ${base.typmod_in}`)
  if (base.typmod_out) options.push(`TYPMOD_OUT = ${base.typmod_out}`)
  if (base.analyze) options.push(`ANALYZE = ${base.analyze}`)
  if (base.subscript && targetVersion >= 140000) options.push(`SUBSCRIPT = ${base.subscript}`)
  options.push(`INTERNALLENGTH = ${base.internal_length < 0 ? 'VARIABLE' : base.internal_length}`)
  if (base.passed_by_value) options.push('PASSEDBYVALUE')
  options.push(`ALIGNMENT = ${ALIGNMENT[base.alignment] ?? 'int4'}`)
  options.push(`STORAGE = ${STORAGE[base.storage] ?? 'plain'}`)
  options.push(`CATEGORY = ${quoteLiteral(base.category)}`)
  if (base.preferred) options.push('PREFERRED = true')
  if (base.default !== null) options.push(`DEFAULT = ${quoteLiteral(base.default)}`)
  if (base.element) options.push(`ELEMENT = ${base.element}`)
  if (base.delimiter !== ',') options.push(`DELIMITER = ${quoteLiteral(base.delimiter)}`)
  if (base.collatable) options.push('COLLATABLE = true')
  return [
    `CREATE TYPE ${name}`,
    ...base.functions.map((fn) => fn.definition),
    `CREATE TYPE ${name} (${options.join(', ')})`,
  ]
}
