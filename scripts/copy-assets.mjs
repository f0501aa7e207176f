// tsc compiles TypeScript only; the SQL files read at run time are copied next to the compiled code.
import { cpSync } from 'node:fs'

for (const folder of ['catalog/sql', 'run/sql', 'local/sql', 'demo']) {
  cpSync(new URL(`../src/${folder}/`, import.meta.url), new URL(`../dist/${folder}/`, import.meta.url), {
    recursive: true,
    filter: (source) => !source.endsWith('.ts') && !source.endsWith('.md'),
  })
}
