import { TablehaulError } from '../../errors.js'

/**
 * Bounds every wait of a copy attempt. Each phase says how long silence is acceptable (a lock wait up to
 * the lock timeout, the stream up to the stall timeout); `touch()` marks progress. When a phase stays
 * silent for longer, the watchdog fires once with a COPY_STALLED error that names what it was waiting
 * for. TCP keepalives cannot catch a connection that is frozen but open; this does.
 */
export class Watchdog {
  private lastProgress = Date.now()
  private allowedMs = 0
  private waitingFor = 'starting'
  private timer: NodeJS.Timeout | undefined
  private firedError: TablehaulError | undefined

  constructor(
    private readonly table: string,
    private readonly onFire: (error: TablehaulError) => void,
    /** Told each phase as it begins: what the copy waits for while no bytes move. */
    private readonly onPhase?: (waitingFor: string) => void,
  ) {}

  /** Enters a phase: silence longer than `allowedMs` (0: unbounded) fires the watchdog. */
  phase(waitingFor: string, allowedMs: number): void {
    this.waitingFor = waitingFor
    this.allowedMs = allowedMs
    this.touch()
    this.onPhase?.(waitingFor)
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), 250)
      this.timer.unref()
    }
  }

  touch(): void {
    this.lastProgress = Date.now()
  }

  get error(): TablehaulError | undefined {
    return this.firedError
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  private check(): void {
    if (this.firedError || this.allowedMs <= 0) return
    const silentMs = Date.now() - this.lastProgress
    if (silentMs < this.allowedMs) return
    this.firedError = new TablehaulError(
      'COPY_STALLED',
      `nothing moved for ${Math.round(silentMs / 1000)}s while ${this.waitingFor} (limit ${Math.round(this.allowedMs / 1000)}s)`,
      {
        hint: 'a connection may be frozen or a server overloaded; check both servers and the network, or raise timeouts.stall',
        table: this.table,
      },
    )
    this.stop()
    this.onFire(this.firedError)
  }
}
