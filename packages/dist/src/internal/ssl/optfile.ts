/**
 * `ssl_dist_optfile` contents → `TlsOptions`. The file holds one Erlang term,
 * `[{server, [Opt, ...]}, {client, [Opt, ...]}].`, read by OTP's `ssl_dist_sup:consult/1`
 * (latin-1 unless a `coding:` comment in the first two lines says UTF-8). Pure.
 */
import * as Term from "@effect-otp/process/Term"
import * as TermLiteral from "@effect-otp/process/TermLiteral"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import type { TlsOptions, TlsSideOptions, TlsVersion } from "./options.js"

/**
 * Why an `ssl_dist_optfile` cannot be used.
 *
 * @since 0.1.0
 * @category errors
 */
export class SslDistConfError extends Data.TaggedError("SslDistConfError")<{
  readonly reason: "ReadFailed" | "Syntax" | "Invalid" | "Unsupported"
  readonly path?: string | undefined
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    const cause = this.reason === "ReadFailed" && this.cause instanceof Error ? `: ${this.cause.message}` : ""
    return `ssl_dist_optfile${this.path !== undefined ? ` ${this.path}` : ""}: ${this.detail}${cause}`
  }
}

/**
 * A parsed `ssl_dist_optfile`: the options, and the OTP options that were accepted but
 * have no effect here (e.g. `{secure_renegotiate, true}`), as `side: option`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SslDistConf {
  readonly options: TlsOptions
  readonly ignored: ReadonlyArray<string>
}

/** OTP options that do not weaken or change the checks when left out. */
const IGNORED = new Set([
  "secure_renegotiate",
  "reuse_sessions",
  "reuse_session",
  "hibernate_after",
  "log_level",
  "log_alert",
  "honor_cipher_order",
  "honor_ecc_order",
  "handshake",
  "padding_check",
  "beast_mitigation",
  "erl_dist",
  "keep_secrets",
  "session_tickets",
  "dhfile"
])

const atomOf = (t: Term.Term): string | undefined => Term.isAtom(t) ? t.name : undefined

const show: (t: Term.Term) => string = Term.format

/**
 * The text of a string-like term: a list of character codes (an Erlang string) or a
 * binary (as UTF-8, bad sequences replaced).
 */
const stringValue = (t: Term.Term): string | undefined =>
  Term.isBinary(t) ? new TextDecoder("utf-8", { fatal: false }).decode(t) : Term.isList(t) ? Term.toText(t) : undefined

const isTuple2 = (t: Term.Term): t is Term.Tuple => Term.isTuple(t) && t.elements.length === 2

/** OTP's hash names in `{Hash, Sign}` signature algorithms, as OpenSSL spells them. */
const HASHES: Record<string, string> = {
  sha: "SHA1",
  sha224: "SHA224",
  sha256: "SHA256",
  sha384: "SHA384",
  sha512: "SHA512"
}
const SIGNS: Record<string, string> = { rsa: "RSA", ecdsa: "ECDSA", dsa: "DSA" }

/** A `signature_algs` entry: a scheme atom (`rsa_pss_rsae_sha256`) or a `{Hash, Sign}` pair. */
const signatureAlg = (t: Term.Term): string | undefined => {
  const a = atomOf(t)
  if (a !== undefined) return a
  if (!isTuple2(t)) return undefined
  const hash = HASHES[atomOf(t.elements[0]!) ?? ""]
  const sign = SIGNS[atomOf(t.elements[1]!) ?? ""]
  return hash !== undefined && sign !== undefined ? `${sign}+${hash}` : undefined
}

/** A non-empty list of atoms, as their names. */
const atomList = (t: Term.Term): Array<string> | undefined => {
  if (!Term.isList(t) || t.length === 0) return undefined
  const out: Array<string> = []
  for (const x of t) {
    const a = atomOf(x)
    if (a === undefined) return undefined
    out.push(a)
  }
  return out
}

class Bad {
  constructor(readonly reason: "Invalid" | "Unsupported", readonly detail: string) {}
}

const sideOptions = (
  side: "server" | "client",
  term: Term.Term,
  ignored: Array<string>
): TlsSideOptions | Bad => {
  if (!Term.isList(term)) return new Bad("Invalid", `the ${side} options must be a list, not ${show(term)}`)
  const out: { -readonly [K in keyof TlsSideOptions]: TlsSideOptions[K] } = {}
  const seen = new Set<string>()
  for (const opt of term) {
    if (!isTuple2(opt) || atomOf(opt.elements[0]!) === undefined) {
      return new Bad("Invalid", `${side}: options are {Name, Value} tuples, not ${show(opt)}`)
    }
    const key = atomOf(opt.elements[0]!)!
    const value = opt.elements[1]!
    if (seen.has(key)) return new Bad("Invalid", `${side}: ${key} is given twice`)
    seen.add(key)
    const bad = (what: string) => new Bad("Invalid", `${side}: ${key} must be ${what}, not ${show(value)}`)
    switch (key) {
      case "certfile":
      case "keyfile":
      case "cacertfile":
      case "password": {
        const s = stringValue(value)
        if (s === undefined || (key !== "password" && s.length === 0)) return bad("a string")
        out[key] = s
        break
      }
      case "verify": {
        const a = atomOf(value)
        if (a !== "verify_peer" && a !== "verify_none") return bad("verify_peer or verify_none")
        out.verify = a
        break
      }
      case "fail_if_no_peer_cert": {
        const a = atomOf(value)
        if (a !== "true" && a !== "false") return bad("true or false")
        if (side === "client") return new Bad("Invalid", "client: fail_if_no_peer_cert is a server option")
        out.failIfNoPeerCert = a === "true"
        break
      }
      case "versions": {
        if (!Term.isList(value) || value.length === 0) return bad("a non-empty list of versions")
        const versions: Array<TlsVersion> = []
        for (const v of value) {
          const a = atomOf(v)
          if (a === "tlsv1.2" || a === "tlsv1.3") versions.push(a)
          else return new Bad("Unsupported", `${side}: version ${show(v)} is not supported (tlsv1.2, tlsv1.3)`)
        }
        out.versions = versions
        break
      }
      case "ciphers": {
        // a list of strings (each a list of character codes), or one string
        const names = Term.isList(value) && value.length > 0 && value.every(Term.isList)
          ? value.map((i) => stringValue(i))
          : []
        if (names.length > 0 && names.every((n) => n !== undefined)) {
          out.ciphers = names.join(":")
          break
        }
        const s = stringValue(value)
        if (s !== undefined && s.length > 0) {
          out.ciphers = s
          break
        }
        return new Bad("Unsupported", `${side}: ciphers must be OpenSSL cipher names (strings), not ${show(value)}`)
      }
      case "server_name_indication": {
        if (side === "server") return new Bad("Invalid", "server: server_name_indication is a client option")
        if (atomOf(value) === "disable") out.serverNameIndication = "disable"
        else {
          const s = stringValue(value)
          if (s === undefined || s.length === 0) return bad("a host name or disable")
          out.serverNameIndication = s
        }
        break
      }
      case "depth": {
        if (!Term.isInteger(value) || value < 0 || value > 0x7fffffff) return bad("a non-negative integer")
        out.depth = Number(value)
        break
      }
      case "signature_algs": {
        if (!Term.isList(value) || value.length === 0) return bad("a non-empty list of algorithms")
        const algs: Array<string> = []
        for (const v of value) {
          const alg = signatureAlg(v)
          if (alg === undefined) {
            return new Bad("Unsupported", `${side}: signature algorithm ${show(v)} is not supported here`)
          }
          algs.push(alg)
        }
        out.signatureAlgs = algs
        break
      }
      case "supported_groups":
      case "eccs": {
        const names = atomList(value)
        if (names === undefined) return bad("a non-empty list of atoms")
        if (key === "eccs") out.eccs = names
        else out.supportedGroups = names
        break
      }
      case "client_renegotiation": {
        const a = atomOf(value)
        if (a !== "true" && a !== "false") return bad("true or false")
        if (side === "client") return new Bad("Invalid", "client: client_renegotiation is a server option")
        out.clientRenegotiation = a === "true"
        break
      }
      case "signature_algs_cert":
        // node:tls has no separate list for certificate signatures: ignoring it would loosen the check
        return new Bad(
          "Unsupported",
          `${side}: signature_algs_cert is not supported by the TypeScript TLS transport (it has no separate ` +
            "list for certificate signatures); leave it out, or restrict signature_algs"
        )
      case "crl_check": {
        if (atomOf(value) !== "false") {
          return new Bad("Unsupported", `${side}: {crl_check, ${show(value)}} is not supported`)
        }
        ignored.push(`${side}: crl_check`)
        break
      }
      default: {
        if (IGNORED.has(key)) {
          ignored.push(`${side}: ${key}`)
          break
        }
        return new Bad(
          "Unsupported",
          `${side}: option ${key} is not supported by the TypeScript TLS transport (it would change the checks)`
        )
      }
    }
  }
  return out
}

/**
 * Parses an `ssl_dist_optfile`: its text, or its bytes (latin-1 unless a `coding:`
 * comment in the first two lines says UTF-8, as `ssl_dist_sup` reads it).
 */
export const parseText = (
  input: string | Uint8Array,
  path?: string
): Either.Either<SslDistConf, SslDistConfError> => {
  const fail = (reason: SslDistConfError["reason"], detail: string, cause?: unknown) =>
    Either.left(new SslDistConfError({ reason, path, detail, cause }))
  const parsed = TermLiteral.consult(input, { encoding: "latin1" })
  if (Either.isLeft(parsed)) {
    const e = parsed.left
    return fail("Syntax", `line ${e.line}, column ${e.column}: ${e.reason}`, e)
  }
  if (parsed.right.length === 0) return fail("Syntax", "the file holds no term (expected one, ending with '.')")
  if (parsed.right.length > 1) return fail("Syntax", `only one term is allowed, not ${parsed.right.length}`)
  const top = parsed.right[0]!
  if (!Term.isList(top)) return fail("Invalid", `expected [{server, [...]}, {client, [...]}], not ${show(top)}`)
  const options: { server?: TlsSideOptions; client?: TlsSideOptions } = {}
  const ignored: Array<string> = []
  for (const entry of top) {
    const side = isTuple2(entry) ? atomOf(entry.elements[0]!) : undefined
    if (side !== "server" && side !== "client") {
      return fail("Invalid", `entries are {server, Options} or {client, Options}, not ${show(entry)}`)
    }
    if (options[side] !== undefined) return fail("Invalid", `${side} is given twice`)
    const r = sideOptions(side, (entry as Term.Tuple).elements[1]!, ignored)
    if (r instanceof Bad) return fail(r.reason, r.detail)
    options[side] = r
  }
  return Either.right({ options, ignored })
}
