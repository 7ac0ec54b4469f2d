/**
 * Host name resolution as `erl` does it for distribution (`inet:getaddr(Host, inet)`,
 * used by `erl_epmd:address_please/3` and `erl_epmd:port_please/2,3`):
 *
 * 1. an IPv4 literal is itself;
 * 2. otherwise the system resolver (`getaddrinfo`, as `inet_gethost` asks it);
 * 3. when that fails, `inet:gethostbyname_self/2`: the machine's own host name (the
 *    part before the first dot, compared without ASCII case), or that name with the
 *    domain after the first dot, is the loopback address, as if `/etc/hosts` had the
 *    line; anything else is `nxdomain`.
 *
 * (internal module)
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as dns from "node:dns"
import * as net from "node:net"
import * as os from "node:os"

/** (internal) */
export interface HostResolverService {
  /** The machine's host name as the OS reports it (`inet:gethostname/0`). */
  readonly hostname: () => string
  /** The system resolver: the first IPv4 address of `host`, or a failure (with an errno code). */
  readonly lookup: (host: string) => Effect.Effect<string, HostResolveError>
}

/** (internal) */
export class HostResolveError extends Data.TaggedError("HostResolveError")<{
  readonly host: string
  /** `ENOTFOUND` (OTP's `nxdomain`), `EINVAL` for a name with invisible characters, or the resolver's code */
  readonly code: string
  readonly cause?: unknown
}> {
  override get message(): string {
    const host = this.host.length > 100 ? `${this.host.slice(0, 100)}...` : this.host
    return `cannot resolve host ${JSON.stringify(host)}: ${this.code}`
  }
}

/** `getaddrinfo(host, AF_INET)` through `dns.lookup`. */
const systemLookup = (host: string): Effect.Effect<string, HostResolveError> =>
  Effect.async<string, HostResolveError>((resume) => {
    dns.lookup(host, { family: 4 }, (error, address) => {
      resume(
        error === null
          ? Effect.succeed(address)
          : Effect.fail(new HostResolveError({ host, code: error.code ?? "ENOTFOUND", cause: error }))
      )
    })
  })

/** (internal) The OS host name and resolver. */
export const live: HostResolverService = {
  hostname: () => os.hostname(),
  lookup: systemLookup
}

/** (internal) The resolver in use; `live` unless another is provided. */
export class HostResolver extends Context.Reference<HostResolver>()("@effect-otp/dist/HostResolver", {
  defaultValue: (): HostResolverService => live
}) {}

/** `inet_db:tolower/1`: ASCII letters only. */
const tolower = (s: string): string => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32))

/** (internal) `inet_config:set_hostname/1`: the host before the first dot, the domain after it. */
export const self = (hostname: string): { readonly host: string; readonly domain: string } => {
  if (hostname.length === 0) return { host: "nohost", domain: "nodomain" }
  const dot = hostname.indexOf(".")
  return dot === -1 ? { host: hostname, domain: "" } : { host: hostname.slice(0, dot), domain: hostname.slice(dot + 1) }
}

/** (internal) `inet:gethostbyname_self/2`: whether `host` names this machine. */
export const isSelf = (host: string, hostname: string): boolean => {
  const me = self(hostname)
  const n = tolower(host)
  return n === tolower(me.host) || (me.domain.length > 0 && n === tolower(`${me.host}.${me.domain}`))
}

/** `inet_parse:visible_string/1`: printable ASCII without spaces. */
const VISIBLE = /^[!-~]+$/

/** The IPv4 loopback address, what erl gives for its own unresolvable host name. */
export const LOOPBACK = "127.0.0.1"

/** (internal) `inet:getaddr(Host, inet)`. */
export const getaddr = (host: string, resolver: HostResolverService): Effect.Effect<string, HostResolveError> => {
  if (net.isIPv4(host)) return Effect.succeed(host)
  if (!VISIBLE.test(host)) return Effect.fail(new HostResolveError({ host, code: "EINVAL" }))
  return Effect.catchAll(
    resolver.lookup(host),
    (e) => isSelf(host, resolver.hostname()) ? Effect.succeed(LOOPBACK) : Effect.fail(e)
  )
}
