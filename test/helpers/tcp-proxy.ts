import net from 'node:net'

interface Link {
  readonly client: net.Socket
  readonly upstream: net.Socket
  /** Bytes forwarded in both directions. */
  bytes: number
  /** The server's replies are dropped (loseNextCommitReply). */
  swallowReplies?: boolean
}

/** A simple-protocol Query message whose text ends with COMMIT. */
const COMMIT_QUERY = Buffer.from('COMMIT\0')

/**
 * A loopback TCP proxy in front of a server, for fault tests: it forwards connections, and on command cuts
 * them (the peers see a reset), freezes them (sockets stay open, nothing moves: what a dead NAT or a hung
 * network looks like, which keepalives do not reveal), or slows them to a byte rate.
 */
export class TcpProxy {
  private readonly server: net.Server
  private readonly links = new Set<Link>()
  private frozen = false
  private bytesPerSecond = 0
  port = 0

  private constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {
    this.server = net.createServer((client) => this.accept(client))
  }

  static async start(upstreamUrl: string): Promise<TcpProxy> {
    const url = new URL(upstreamUrl)
    const proxy = new TcpProxy(url.hostname, Number(url.port || 5432))
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve))
    proxy.port = (proxy.server.address() as net.AddressInfo).port
    return proxy
  }

  /** `url` with its host and port replaced by the proxy's. */
  urlFor(url: string): string {
    const parsed = new URL(url)
    parsed.hostname = '127.0.0.1'
    parsed.port = String(this.port)
    return parsed.toString()
  }

  /** Total bytes forwarded over all connections so far. */
  get bytes(): number {
    let total = this.retiredBytes
    for (const link of this.links) total += link.bytes
    return total
  }

  private retiredBytes = 0

  /** Resets every open connection, or only the one that moved the most bytes (the COPY, not the snapshot holder). */
  cut(which: 'all' | 'busiest' = 'all'): void {
    const targets =
      which === 'all' ? [...this.links] : [...this.links].sort((a, b) => b.bytes - a.bytes).slice(0, 1)
    for (const link of targets) {
      link.client.resetAndDestroy()
      link.upstream.resetAndDestroy()
    }
  }

  /** Stops moving bytes on every connection, open or new, until `thaw()`. */
  freeze(): void {
    this.frozen = true
    for (const link of this.links) {
      link.client.pause()
      link.upstream.pause()
    }
  }

  /**
   * Forwards the next COMMIT a client sends and drops every reply of its connection from then on; every
   * other connection is reset and new ones are refused until `accept()`: the server commits, and the
   * client can neither hear it nor ask (a server that crashed just after a commit and stays down).
   */
  loseNextCommitReply(): Promise<void> {
    return new Promise((resolve) => (this.commitTrap = resolve))
  }

  /** Resets every new connection until `acceptAgain()`: a server that is down, or restarting. */
  refuseNew(): void {
    this.refusing = true
  }

  /** Takes new connections again after loseNextCommitReply or refuseNew. */
  acceptAgain(): void {
    this.refusing = false
  }

  private commitTrap: (() => void) | undefined
  private refusing = false

  thaw(): void {
    this.frozen = false
    for (const link of this.links) {
      link.client.resume()
      link.upstream.resume()
    }
  }

  /**
   * Resolves once one connection has forwarded `bytes` bytes: the moment the far side has really received
   * them, which a client's own progress cannot tell (loopback socket buffers swallow megabytes at once).
   */
  whenOneLinkPasses(bytes: number): Promise<void> {
    return new Promise((resolve) => this.watchers.push({ bytes, resolve }))
  }

  private watchers: Array<{ bytes: number; resolve: () => void }> = []

  /** Limits each direction of each connection to about this many bytes per second (0: no limit). */
  throttle(bytesPerSecond: number): void {
    this.bytesPerSecond = bytesPerSecond
  }

  async close(): Promise<void> {
    this.cut('all')
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private accept(client: net.Socket): void {
    if (this.refusing) {
      client.resetAndDestroy()
      return
    }
    const upstream = net.connect(this.upstreamPort, this.upstreamHost)
    const link: Link = { client, upstream, bytes: 0 }
    this.links.add(link)
    const forget = () => {
      if (this.links.delete(link)) this.retiredBytes += link.bytes
      client.destroy()
      upstream.destroy()
    }
    client.on('error', forget).on('close', forget)
    upstream.on('error', forget).on('close', forget)
    this.forward(client, upstream, link)
    this.forward(upstream, client, link)
    if (this.frozen) {
      client.pause()
      upstream.pause()
    }
  }

  private forward(from: net.Socket, to: net.Socket, link: Link): void {
    from.on('data', (chunk: Buffer) => {
      if (link.swallowReplies && from === link.upstream) return
      if (this.commitTrap && from === link.client && chunk.includes(COMMIT_QUERY)) {
        const sprung = this.commitTrap
        this.commitTrap = undefined
        to.write(chunk)
        link.swallowReplies = true
        this.refusing = true
        for (const other of [...this.links].filter((l) => l !== link)) {
          other.client.resetAndDestroy()
          other.upstream.resetAndDestroy()
        }
        sprung()
        return
      }
      link.bytes += chunk.length
      for (const watcher of this.watchers.filter((w) => link.bytes >= w.bytes)) {
        this.watchers.splice(this.watchers.indexOf(watcher), 1)
        watcher.resolve()
      }
      const flushed = to.write(chunk)
      if (this.bytesPerSecond > 0) {
        from.pause()
        setTimeout(
          () => !this.frozen && from.resume(),
          Math.ceil((chunk.length / this.bytesPerSecond) * 1000),
        )
      } else if (!flushed) {
        from.pause()
        to.once('drain', () => !this.frozen && from.resume())
      }
    })
  }
}
