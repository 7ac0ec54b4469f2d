/**
 * The network of a `MemoryCluster`: in-memory carriers between nodes of one JS process,
 * with faults. Each node gets its own network interface (a `Transport`, and the epmd of
 * its host); the network knows which node owns each listening port and each end of
 * every link, so it can hold the bytes between two nodes (a frozen link, a partition),
 * refuse new connections across a partition, and cut every link of a node that dies.
 *
 * Held bytes are delivered, in order, when the hold is lifted (a TCP connection
 * retransmits across a short outage); a link closed meanwhile delivers its end of stream
 * after its bytes. No clock is involved: time passes only in the nodes (ticks, setup
 * timeouts), so `TestClock` decides when a silent link times out.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import type { Address, Carrier, Listener, ListenOptions, Transport } from "../../Transport.js"
import * as MemoryEpmd from "../epmd/memory.js"
import { AcceptQueue } from "../transport/carrier.js"
import { CarrierClosed, TransportError } from "../transport/error.js"
import { END, MemoryCarrier } from "../transport/memory.js"

const pairKey = (a: string, b: string): string => a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`

/** One end of a link: its bytes wait in `outbox` while the link is held. */
class NetCarrier extends MemoryCarrier {
  private outbox: Array<Uint8Array | typeof END> = []
  constructor(readonly link: Link, remoteAddress: Address, readonly owner: Interface) {
    super(remoteAddress, 2)
  }
  protected override writeChunks(chunks: ReadonlyArray<Uint8Array>): boolean {
    if (!this.link.held()) return super.writeChunks(chunks)
    this.writes++
    for (const c of chunks) {
      if (c.length === 0) continue
      this.bytesWritten += c.length
      this.outbox.push(c.slice())
    }
    return true
  }
  protected override destroy(cause?: unknown): void {
    if (!this.link.held()) return super.destroy(cause)
    this.finish(new CarrierClosed({ by: "local", cause }))
    this.outbox.push(END)
  }
  /** The hold was lifted: what waited goes out, in order. */
  release(): void {
    const out = this.outbox
    this.outbox = []
    for (const item of out) this.peer.enqueue(item)
  }
}

/** A connection between two nodes: the dialing end and the accepted end. */
export class Link {
  readonly dialerEnd: NetCarrier
  readonly acceptorEnd: NetCarrier
  constructor(
    private readonly network: NetworkImpl,
    readonly dialer: Interface,
    readonly acceptor: Interface,
    port: number,
    ephemeral: number
  ) {
    this.dialerEnd = new NetCarrier(this, { host: acceptor.host, port }, dialer)
    this.acceptorEnd = new NetCarrier(this, { host: dialer.host, port: ephemeral }, acceptor)
    this.dialerEnd.peer = this.acceptorEnd
    this.acceptorEnd.peer = this.dialerEnd
  }
  held(): boolean {
    return this.network.isHeld(this.dialer.node, this.acceptor.node)
  }
  isOpen(): boolean {
    return !this.dialerEnd.isClosed() || !this.acceptorEnd.isClosed()
  }
  get closed(): Effect.Effect<void> {
    return Effect.asVoid(Effect.zip(this.dialerEnd.closed, this.acceptorEnd.closed))
  }
}

/** A node's network interface; a node that dies keeps its old interface, dead. */
export class Interface {
  alive = true
  constructor(readonly node: string, readonly host: string) {}
}

/** (internal) */
export class NetworkImpl {
  readonly epmd = MemoryEpmd.make()
  private readonly listeners = new Map<number, { owner: Interface; queue: AcceptQueue<NetCarrier> }>()
  private readonly links: Array<Link> = []
  private readonly frozen = new Set<string>()
  private readonly partitions = new Set<string>()
  private readonly linkWaiters = new Set<() => void>()
  private nextPort = 1
  private nextEphemeral = 40000

  isHeld(a: string, b: string): boolean {
    const key = pairKey(a, b)
    return this.frozen.has(key) || this.partitions.has(key)
  }
  isPartitioned(a: string, b: string): boolean {
    return this.partitions.has(pairKey(a, b))
  }

  /** The interface of a node (a new one for each incarnation) and its transport. */
  attach(node: string, host: string): { readonly iface: Interface; readonly transport: Transport["Type"] } {
    const iface = new Interface(node, host)
    return { iface, transport: { listen: (o) => this.listen(iface, o), connect: (a) => this.connect(iface, a) } }
  }

  private listen(owner: Interface, options: ListenOptions): Effect.Effect<Listener, TransportError, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.suspend(() => {
        let port = options.port ?? 0
        if (port === 0) {
          while (this.listeners.has(this.nextPort)) this.nextPort++
          port = this.nextPort++
        }
        const address = `${owner.host}:${port}`
        if (!owner.alive || this.listeners.has(port)) {
          const cause = new Error(owner.alive ? "EADDRINUSE" : "ENETDOWN")
          return Effect.fail(new TransportError({ reason: "ListenFailed", address, cause }))
        }
        const queue = new AcceptQueue<NetCarrier>((c) => c.unsafeClose())
        this.listeners.set(port, { owner, queue })
        const accept: Effect.Effect<Carrier, TransportError, Scope.Scope> = Effect.acquireRelease(
          Effect.interruptible(queue.take(address)),
          (c) => c.close
        )
        return Effect.succeed({ port, queue, listener: { host: owner.host, port, accept } })
      }),
      ({ port, queue }) =>
        Effect.sync(() => {
          if (this.listeners.get(port)?.queue === queue) this.listeners.delete(port)
          queue.close(`${owner.host}:${port}`)
        })
    ).pipe(Effect.map(({ listener }) => listener))
  }

  private connect(from: Interface, address: Address): Effect.Effect<Carrier, TransportError, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.suspend(() => {
        const target = this.listeners.get(address.port)
        const where = `${address.host}:${address.port}`
        const refuse = (code: string) =>
          Effect.fail(new TransportError({ reason: "ConnectFailed", address: where, cause: new Error(code) }))
        if (!from.alive) return refuse("ENETDOWN")
        if (target === undefined || !target.owner.alive) return refuse("ECONNREFUSED")
        if (this.isPartitioned(from.node, target.owner.node)) return refuse("EHOSTUNREACH")
        const link = new Link(this, from, target.owner, address.port, this.nextEphemeral++)
        this.links.push(link)
        for (const w of [...this.linkWaiters]) w()
        target.queue.push(link.acceptorEnd)
        return Effect.succeed(link.dialerEnd)
      }),
      (c) => c.close
    )
  }

  // --- faults -------------------------------------------------------------------

  private release(a: string, b: string): void {
    if (this.isHeld(a, b)) return
    for (const l of this.linksBetween(a, b)) {
      l.dialerEnd.release()
      l.acceptorEnd.release()
    }
  }
  freeze(a: string, b: string): void {
    this.frozen.add(pairKey(a, b))
  }
  thaw(a: string, b: string): void {
    this.frozen.delete(pairKey(a, b))
    this.release(a, b)
  }
  partition(a: string, b: string): void {
    this.partitions.add(pairKey(a, b))
  }
  heal(a: string, b: string): void {
    this.partitions.delete(pairKey(a, b))
    this.release(a, b)
  }

  /** The node is gone at once: its ports close, its links are cut, its name leaves epmd. */
  kill(iface: Interface, alive: string): void {
    iface.alive = false
    for (const [port, l] of this.listeners) {
      if (l.owner === iface) {
        this.listeners.delete(port)
        l.queue.close(`${iface.host}:${port}`)
      }
    }
    const killed = new Error("the node was killed")
    for (const l of this.links) {
      if (l.dialer === iface) l.dialerEnd.unsafeClose(killed)
      if (l.acceptor === iface) l.acceptorEnd.unsafeClose(killed)
    }
    this.epmd.unsafeDrop(iface.host, alive)
  }

  // --- introspection ------------------------------------------------------------

  linksBetween(a: string, b: string): ReadonlyArray<Link> {
    const key = pairKey(a, b)
    return this.links.filter((l) => pairKey(l.dialer.node, l.acceptor.node) === key)
  }

  /** Waits until at least `count` links between `a` and `b` have been opened. */
  awaitLinks(a: string, b: string, count: number): Effect.Effect<ReadonlyArray<Link>> {
    return Effect.suspend(() => {
      if (this.linksBetween(a, b).length >= count) return Effect.succeed(this.linksBetween(a, b))
      const done = Deferred.unsafeMake<void>(FiberId.none)
      const check = () => {
        if (this.linksBetween(a, b).length >= count) Deferred.unsafeDone(done, Effect.void)
      }
      return Effect.acquireUseRelease(
        Effect.sync(() => this.linkWaiters.add(check)),
        () => Effect.as(Deferred.await(done), this.linksBetween(a, b)),
        () => Effect.sync(() => this.linkWaiters.delete(check))
      )
    })
  }
}
