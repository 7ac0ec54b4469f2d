/**
 * How the node finds its own host name and the address of a peer's host, as `erl`
 * does: `inet:getaddr(Host, inet)` asks the system resolver, and when that fails the
 * machine's own name (up to the first dot, or with the domain after it; ASCII case
 * ignored) is the loopback address. So on a machine whose host name is in neither
 * `/etc/hosts` nor DNS (common in containers), `alice@laptop-42` still reaches
 * `bob@laptop-42`, and `erl -sname` nodes on it reach ours.
 *
 * The default uses `os.hostname()` and `dns.lookup`; provide another service (a
 * `Context.Reference`) to change either, e.g. in tests:
 *
 * ```ts
 * Effect.provideService(HostResolver.HostResolver, {
 *   hostname: () => "laptop-42",
 *   lookup: (host) => Effect.fail(new HostResolver.HostResolveError({ host, code: "ENOTFOUND" }))
 * })
 * ```
 *
 * `DistNode.layer` completes a bare name with its `hostname`; connection setup and the
 * `Epmd` client's `portPlease`/`names` resolve hosts with `getaddr`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as internal from "./internal/hostResolver.js"

/**
 * The shape of the `HostResolver` service.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostResolverService extends internal.HostResolverService {}

/**
 * A host name that does not resolve (`ENOTFOUND` is OTP's `nxdomain`).
 *
 * @since 0.1.0
 * @category errors
 */
export const HostResolveError: typeof internal.HostResolveError = internal.HostResolveError

/**
 * @since 0.1.0
 * @category errors
 */
export type HostResolveError = internal.HostResolveError

/**
 * The resolver in use; `live` unless another is provided.
 *
 * @since 0.1.0
 * @category tags
 */
export const HostResolver: typeof internal.HostResolver = internal.HostResolver

/**
 * @since 0.1.0
 * @category tags
 */
export type HostResolver = internal.HostResolver

/**
 * `os.hostname()` and `dns.lookup` (IPv4, `getaddrinfo`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const live: HostResolverService = internal.live

/**
 * Whether `host` names this machine as `inet:gethostbyname_self/2` decides: the host
 * name up to its first dot, or the whole dotted name, ignoring ASCII case.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSelf: (host: string, hostname: string) => boolean = internal.isSelf

/**
 * `inet:getaddr(Host, inet)`: an IPv4 literal as it is, else the system resolver, else
 * `127.0.0.1` when `host` names this machine (see `isSelf`).
 *
 * @since 0.1.0
 * @category resolution
 */
export const getaddr = (host: string): Effect.Effect<string, HostResolveError> =>
  Effect.flatMap(HostResolver, (resolver) => internal.getaddr(host, resolver))
