import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { NetworkImpl } from "../src/internal/testing/network.js"
import { setDirectWrites, type TcpCarrier } from "../src/internal/transport/tcp.js"
import * as Transport from "../src/Transport.js"

/** Reads until `n` bytes have arrived. */
const readN = (carrier: Transport.Carrier, n: number) =>
  Effect.gen(function*() {
    const out: Array<number> = []
    while (out.length < n) {
      const chunk = yield* carrier.read
      for (const b of chunk) out.push(b)
    }
    return out
  })

/** Probes `condition` once per turn of the event loop until it holds (the I/O it waits for has happened). */
const until = (condition: () => boolean) =>
  Effect.promise(() => new Promise<void>((r) => setImmediate(r))).pipe(Effect.repeat({ until: condition }))

/** Bytes the carrier holds for its reader (received, not yet handed out). */
const buffered = (carrier: Transport.Carrier): number => (carrier as unknown as { chunkBytes: number }).chunkBytes

const suite = (name: string, layer: Layer.Layer<Transport.Transport>, host: string) =>
  describe(name, () => {
    /** A listener on a free port, a client connected to it and the server end it accepted. */
    const connected = Effect.gen(function*() {
      const t = yield* Transport.Transport
      const listener = yield* t.listen({ host, port: 0 })
      const client = yield* t.connect({ host, port: listener.port })
      const server = yield* listener.accept
      return { client, listener, server }
    })

    it.scoped("listen, connect, accept and exchange bytes both ways", () =>
      Effect.gen(function*() {
        const { client, listener, server } = yield* connected
        expect(listener.port).toBeGreaterThan(0)
        expect(client.framing).toBe(2)
        yield* client.write(new Uint8Array([1, 2, 3]))
        expect(yield* readN(server, 3)).toEqual([1, 2, 3])
        yield* server.writev([new Uint8Array([4]), new Uint8Array([5, 6]), new Uint8Array(0), new Uint8Array([7])])
        expect(yield* readN(client, 4)).toEqual([4, 5, 6, 7])
        expect(client.remoteAddress?.port).toBe(listener.port)
      }).pipe(Effect.provide(layer)))

    it.scoped("bytes buffered by read are handed to the push handler first, in order", () =>
      Effect.gen(function*() {
        const { client, server } = yield* connected
        yield* client.write(new Uint8Array([1]))
        expect(yield* readN(server, 1)).toEqual([1])
        yield* client.write(new Uint8Array([2, 3]))
        yield* until(() => buffered(server) === 2)
        const got: Array<number> = []
        server.unsafeOnData((c) => c.forEach((b) => got.push(b)))
        yield* client.write(new Uint8Array([4]))
        yield* until(() => got.length === 3)
        expect(got).toEqual([2, 3, 4])
      }).pipe(Effect.provide(layer)))

    it.scoped("pause holds data back until resume", () =>
      Effect.gen(function*() {
        const { client, server } = yield* connected
        const got: Array<number> = []
        server.unsafeOnData((c) => c.forEach((b) => got.push(b)))
        server.pause()
        yield* client.write(new Uint8Array([9, 9]))
        // a round trip the other way: the bytes written before it have had every chance to arrive
        yield* server.write(new Uint8Array([1]))
        expect(yield* readN(client, 1)).toEqual([1])
        expect(got).toEqual([])
        server.resume()
        yield* until(() => got.length === 2)
        expect(got).toEqual([9, 9])
      }).pipe(Effect.provide(layer)))

    it.scoped.each(["dialling", "accepting"] as const)(
      "the %s end's chunks stay whole after later reads (kept without copying, across pauses)",
      (end) =>
        Effect.gen(function*() {
          const ends = yield* connected
          // `client` reads what `server` writes
          const [client, server] = end === "dialling" ? [ends.client, ends.server] : [ends.server, ends.client]
          // several slabs' worth, in writes of many sizes, each byte numbered mod 251
          const sizes = [1, 7, 300, 4096, 65536, 70000, 128 * 1024, 3, 200_000, 17]
          let total = 0
          for (let i = 0; i < 8; i++) for (const s of sizes) total += s
          const kept: Array<Uint8Array> = []
          let got = 0
          client.unsafeOnData((c) => {
            kept.push(c)
            got += c.length
          })
          let at = 0
          for (let i = 0; i < 8; i++) {
            for (const s of sizes) {
              const b = new Uint8Array(s)
              for (let k = 0; k < s; k++) b[k] = (at + k) % 251
              at += s
              yield* server.write(b)
            }
            if (i === 3) {
              client.pause()
              yield* server.write(new Uint8Array(0))
              client.resume()
            }
          }
          yield* until(() => got === total)
          let n = 0
          let bad = -1
          for (const c of kept) {
            for (let k = 0; k < c.length; k++, n++) if (bad < 0 && c[k] !== n % 251) bad = n
          }
          expect([n, bad]).toEqual([total, -1])
        }).pipe(Effect.provide(layer))
    )

    it.scoped("closing one end: the other sees `peer`, reads fail with Closed, writes fail", () =>
      Effect.gen(function*() {
        const { client, server } = yield* connected
        yield* client.write(new Uint8Array([1]))
        yield* client.close
        expect((yield* client.closed).by).toBe("local")
        expect((yield* server.closed).by).toBe("peer")
        // bytes sent before the close are still readable
        expect(yield* readN(server, 1)).toEqual([1])
        const e = yield* Effect.flip(server.read)
        expect([e._tag, e.reason]).toEqual(["TransportError", "Closed"])
        expect((yield* Effect.flip(client.write(new Uint8Array([1])))).reason).toBe("Closed")
        expect(server.isClosed()).toBe(true)
      }).pipe(Effect.provide(layer)))

    it.scoped("connect to a closed port fails with ConnectFailed", () =>
      Effect.gen(function*() {
        const t = yield* Transport.Transport
        const port = yield* Effect.scoped(Effect.map(t.listen({ host, port: 0 }), (l) => l.port))
        const e = yield* Effect.flip(t.connect({ host, port }))
        expect(e.reason).toBe("ConnectFailed")
        expect(e.message).toContain(String(port))
      }).pipe(Effect.provide(layer)))

    it.effect("closing the listener fails a waiting accept and closes accepted carriers with their scope", () =>
      Effect.gen(function*() {
        const t = yield* Transport.Transport
        const scope = yield* Scope.make()
        const listener = yield* Scope.extend(t.listen({ host, port: 0 }), scope)
        const clientScope = yield* Scope.make()
        const client = yield* Scope.extend(t.connect({ host, port: listener.port }), clientScope)
        const serverScope = yield* Scope.make()
        const server = yield* Scope.extend(listener.accept, serverScope)
        const waiting = yield* Effect.fork(Effect.either(Effect.scoped(listener.accept)))
        yield* Effect.yieldNow()
        yield* Scope.close(scope, Exit.void)
        const r = yield* Fiber.join(waiting)
        expect(Either.isLeft(r) && r.left.reason).toBe("Closed")
        yield* Scope.close(serverScope, Exit.void)
        expect(server.isClosed()).toBe(true)
        expect((yield* client.closed).by).toBe("peer")
        yield* Scope.close(clientScope, Exit.void)
      }).pipe(Effect.provide(layer)))
  })

/** Carriers made while `f` runs write through `socket.write` (node's stream path), not on the handle. */
const streamWrites = <A, E, R>(f: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => setDirectWrites(false)),
    () => f,
    () => Effect.sync(() => setDirectWrites(true))
  )

describe("Transport", () => {
  suite("tcp", Transport.layerTcp, "127.0.0.1")
  // the same, with the carriers writing through `socket.write` (the fallback of direct writes)
  suite(
    "tcp, stream writes",
    Layer.merge(
      Transport.layerTcp,
      Layer.scopedDiscard(Effect.acquireRelease(
        Effect.sync(() => setDirectWrites(false)),
        () => Effect.sync(() => setDirectWrites(true))
      ))
    ),
    "127.0.0.1"
  )
  // the in-memory network of MemoryCluster
  suite("memory", Layer.sync(Transport.Transport, () => new NetworkImpl().attach("t", "memory").transport), "memory")

  it.scoped("tcp: a large writev arrives whole and in order", () =>
    Effect.gen(function*() {
      const t = Transport.tcpTransport
      const listener = yield* t.listen({ host: "127.0.0.1", port: 0 })
      const client = yield* t.connect({ host: "127.0.0.1", port: listener.port })
      const server = yield* listener.accept
      const chunks = Array.from({ length: 20 }, (_, i) => new Uint8Array(100_000).fill(i))
      const reading = yield* Effect.fork(readN(server, 2_000_000))
      yield* client.writev(chunks)
      const got = yield* Fiber.join(reading)
      expect(got.length).toBe(2_000_000)
      for (let i = 0; i < 20; i++) expect(got[i * 100_000]).toBe(i)
    }))

  it.scoped("tcp: both ends read into slabs; bytes the dialler sent before the accept all arrive, in order", () =>
    Effect.gen(function*() {
      const t = Transport.tcpTransport
      const listener = yield* t.listen({ host: "127.0.0.1", port: 0 })
      const client = yield* t.connect({ host: "127.0.0.1", port: listener.port })
      // written while the accepted socket waits in the queue, paused (small enough for the
      // kernel's buffers: the write completes although nothing reads yet)
      const early = Uint8Array.from({ length: 20_000 }, (_, i) => i % 251)
      yield* client.write(early)
      yield* client.write(new Uint8Array([7, 8, 9]))
      const server = yield* listener.accept
      expect((client as TcpCarrier).readsIntoSlabs).toBe(true)
      expect((server as TcpCarrier).readsIntoSlabs).toBe(true)
      const got = yield* readN(server, early.length + 3)
      expect(got.slice(early.length)).toEqual([7, 8, 9])
      expect(got.slice(0, early.length).every((b, i) => b === i % 251)).toBe(true)
      yield* server.write(new Uint8Array([1, 2]))
      expect(yield* readN(client, 2)).toEqual([1, 2])
      expect(server.remoteAddress?.host).toBe("127.0.0.1")
    }))

  it.scoped("tcp: a dialler that closes before its connection is accepted: the accepted carrier sees `peer`", () =>
    Effect.gen(function*() {
      const t = Transport.tcpTransport
      const listener = yield* t.listen({ host: "127.0.0.1", port: 0 })
      const clientScope = yield* Scope.make()
      const client = yield* Scope.extend(t.connect({ host: "127.0.0.1", port: listener.port }), clientScope)
      yield* client.write(new Uint8Array([5]))
      yield* Scope.close(clientScope, Exit.void)
      const server = yield* listener.accept
      expect(yield* readN(server, 1)).toEqual([5])
      expect((yield* server.closed).by).toBe("peer")
      const r = yield* Effect.either(server.read)
      expect(Either.isLeft(r) && r.left.reason).toBe("Closed")
    }))

  it.scoped.each(["direct", "stream"] as const)(
    "tcp, %s writes: with the reader paused, a write the socket cannot take whole makes the writer wait for drain; every byte arrives, in order",
    (mode) => {
      const body = Effect.gen(function*() {
        const t = Transport.tcpTransport
        const listener = yield* t.listen({ host: "127.0.0.1", port: 0 })
        const client = (yield* t.connect({ host: "127.0.0.1", port: listener.port })) as TcpCarrier
        const server = (yield* listener.accept) as TcpCarrier
        expect([client.writesDirect, server.writesDirect]).toEqual(mode === "direct" ? [true, true] : [false, false])
        server.pause()
        // chunks of 64 KiB, byte i of the stream is i mod 251, until the carrier asks to wait
        // (the kernel's buffers are full while nothing reads: the direct write went async)
        const CHUNK = 64 * 1024
        let sent = 0
        const next = (n: number) => {
          const b = new Uint8Array(n)
          for (let k = 0; k < n; k++) b[k] = (sent + k) % 251
          sent += n
          return b
        }
        let more: boolean | undefined = true
        while (more === true && sent < 256 * 1024 * 1024) more = client.unsafeWritev([next(CHUNK)])
        expect(more).toBe(false)
        // a write now completes only after the socket drained: the reader must resume first
        const waiting = yield* Effect.fork(client.writev([next(3), next(CHUNK)]))
        let got = 0
        let bad = -1
        server.unsafeOnData((c) => {
          for (let k = 0; k < c.length; k++, got++) if (bad < 0 && c[k] !== got % 251) bad = got
        })
        server.resume()
        yield* Fiber.join(waiting)
        yield* until(() => got === sent)
        expect([got, bad]).toEqual([sent, -1])
        // and the carrier writes at once again
        expect(client.unsafeWritev([next(5)])).toBe(true)
        yield* until(() => got === sent)
        expect(bad).toBe(-1)
      })
      return mode === "direct" ? body : streamWrites(body)
    },
    30_000
  )

  it.scoped("memory pairs honour the framing hint", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Transport.memoryPair({ framing: 4 })
      expect([a.framing, b.framing]).toEqual([4, 4])
      yield* a.write(new Uint8Array([1]))
      expect(yield* readN(b, 1)).toEqual([1])
    }))
})
