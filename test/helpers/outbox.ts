import { readFileSync, readdirSync, existsSync } from 'node:fs'
import path from 'node:path'
import { type ParsedMail, simpleParser } from 'mailparser'

/** Every .eml message an OutboxNotifier wrote into `dir`, parsed, oldest first. */
export async function outboxMessages(dir: string): Promise<ParsedMail[]> {
  if (!existsSync(dir)) return []
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.eml'))
    .sort()
  return Promise.all(files.map((name) => simpleParser(readFileSync(path.join(dir, name)))))
}
