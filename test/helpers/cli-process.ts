// What bin/tablehaul.js does, from the current source instead of dist/: the CLI as a process of its own
// (signals, exit codes, stdout closed early), testing the code in the tree, never a build left behind.
import { runCli } from '../../src/cli/main.js'

await runCli()
