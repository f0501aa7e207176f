/**
 * SIGINT and SIGTERM end a run gracefully: the first one aborts the returned signal (no new tables start,
 * copies in flight roll back, a connection attempt ends at once, the log is written and the e-mail sent); a
 * second one exits at once, and the log's exit hook records what was left undone (a run not finished, an
 * e-mail not sent).
 */
export function installSignalHandlers(onFirst: (name: NodeJS.Signals) => void): {
  signal: AbortSignal
  dispose(): void
} {
  const controller = new AbortController()
  const handler = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130)
    onFirst(name)
    controller.abort()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
      // A signal while the process winds down (the run already stopped) still means "interrupted, now".
      if (controller.signal.aborted) {
        process.once('SIGINT', () => process.exit(130))
        process.once('SIGTERM', () => process.exit(130))
      }
    },
  }
}
