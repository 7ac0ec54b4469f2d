/**
 * Test helper: a throwaway PKI made with the `openssl` CLI in a temp directory (no
 * private key is ever committed), and `ssl_dist_optfile` writers.
 *
 * - `ca` signs `node` (SAN: this host's short name, localhost, 127.0.0.1; server and client use),
 *   `expired` (same names, validity ended yesterday) and `otherHost` (SAN
 *   other.invalid only);
 * - `ca2`, a second CA, signs `wrongCa` (same names as `node`);
 * - `ica`, an intermediate CA signed by `ca`, signs `chained` (same names as `node`; its
 *   certfile holds the leaf and `ica`, so the chain is root → ica → leaf).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ERLC_CACHE_ENV } from "./erl.js"
import { host } from "./tsnode.js"

export interface CertFiles {
  readonly certfile: string
  readonly keyfile: string
}

export interface Pki {
  readonly dir: string
  /** The first CA's certificate (trust this in `cacertfile`). */
  readonly cacert: string
  /** The second CA's certificate. */
  readonly cacert2: string
  readonly node: CertFiles
  readonly expired: CertFiles
  readonly wrongCa: CertFiles
  readonly otherHost: CertFiles
  readonly chained: CertFiles
}

/** Whether `openssl` runs here (it fails loudly under CI otherwise). */
export const opensslAvailable = (): boolean => {
  const r = spawnSync("openssl", ["version"], { encoding: "utf8" })
  const ok = r.status === 0
  if (!ok) {
    if (process.env.CI) throw new Error("openssl is required under CI")
    console.warn(`\n${"!".repeat(72)}\n!! openssl is not available: SKIPPING the TLS tests.\n${"!".repeat(72)}\n`)
  }
  return ok
}

const openssl = (cwd: string, args: ReadonlyArray<string>) =>
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] })

const LEAF_EXT = (san: string) =>
  [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth,clientAuth",
    `subjectAltName=${san}`
  ].join("\n") + "\n"

const CA_EXT = [
  "basicConstraints=critical,CA:TRUE",
  "keyUsage=critical,keyCertSign,cRLSign",
  "subjectKeyIdentifier=hash"
].join("\n") + "\n"

const makeCa = (dir: string, name: string, cn: string) => {
  fs.writeFileSync(path.join(dir, `${name}.ext`), CA_EXT)
  openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`])
  openssl(dir, ["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-out", `${name}.csr`])
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-signkey",
    `${name}.key`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`
  ])
}

const makeLeaf = (dir: string, name: string, ca: string, san: string, days: string): CertFiles => {
  fs.writeFileSync(path.join(dir, `${name}.ext`), LEAF_EXT(san))
  openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`])
  openssl(dir, ["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`])
  // `-days -1` puts notAfter a day in the past: an expired certificate without faketime.
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-set_serial",
    String(Math.floor(Math.random() * 1e9)),
    "-days",
    days,
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`
  ])
  return { certfile: path.join(dir, `${name}.pem`), keyfile: path.join(dir, `${name}.key`) }
}

/** An intermediate CA `name` signed by the CA `ca`. */
const makeIntermediate = (dir: string, name: string, ca: string, cn: string) => {
  fs.writeFileSync(path.join(dir, `${name}.ext`), CA_EXT)
  openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`])
  openssl(dir, ["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-out", `${name}.csr`])
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-set_serial",
    String(Math.floor(Math.random() * 1e9)),
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`
  ])
}

/** The file names of a PKI directory (relative to it). */
const layout = (dir: string): Omit<Pki, "dir"> => {
  const files = (name: string): CertFiles => ({
    certfile: path.join(dir, `${name}.pem`),
    keyfile: path.join(dir, `${name}.key`)
  })
  return {
    cacert: path.join(dir, "ca.pem"),
    cacert2: path.join(dir, "ca2.pem"),
    node: files("node"),
    expired: files("expired"),
    wrongCa: files("wrongca"),
    otherHost: files("otherhost"),
    chained: { certfile: path.join(dir, "chained-full.pem"), keyfile: path.join(dir, "chained.key") }
  }
}

/** Generates every key and certificate into `dir` (two dozen `openssl` runs, about 0.6 CPU-s). */
const generate = (dir: string): void => {
  const names = `DNS:${host},DNS:localhost,IP:127.0.0.1`
  makeCa(dir, "ca", "effect-otp test CA")
  makeCa(dir, "ca2", "effect-otp other CA")
  makeLeaf(dir, "node", "ca", names, "2")
  makeLeaf(dir, "expired", "ca", names, "-1")
  makeLeaf(dir, "wrongca", "ca2", names, "2")
  makeLeaf(dir, "otherhost", "ca", "DNS:other.invalid", "2")
  makeIntermediate(dir, "ica", "ca", "effect-otp intermediate CA")
  const leaf = makeLeaf(dir, "chained", "ica", names, "2")
  fs.writeFileSync(
    path.join(dir, "chained-full.pem"),
    Buffer.concat([fs.readFileSync(leaf.certfile), fs.readFileSync(path.join(dir, "ica.pem"))])
  )
}

/**
 * The run's generated PKI, in the run's cache directory (`ERLC_CACHE_ENV`, which also holds
 * the run's `erlc` output): the first file that needs it makes it (a file making it at the
 * same time keeps its own or ours: the rename is atomic). `undefined` outside vitest's
 * global setup.
 */
const runPki = (): string | undefined => {
  const cache = process.env[ERLC_CACHE_ENV]
  if (cache === undefined || !fs.existsSync(cache)) return undefined
  const dir = path.join(cache, "pki")
  if (!fs.existsSync(dir)) {
    const work = fs.mkdtempSync(path.join(cache, "tmp-pki-"))
    generate(work)
    try {
      fs.renameSync(work, dir)
    } catch {
      fs.rmSync(work, { recursive: true, force: true })
    }
  }
  return dir
}

/**
 * Makes the PKI synchronously in a fresh temp directory. Within a vitest run the keys and
 * certificates are generated once per run (about 0.6 CPU-s of `openssl` each time) and
 * copied into each fresh directory: every PKI still has a directory of its own, which
 * its user may write optfiles into and remove.
 */
export const makePki = (): Pki => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-otp-tls-"))
  const shared = runPki()
  if (shared === undefined) generate(dir)
  else fs.cpSync(shared, dir, { recursive: true })
  return { dir, ...layout(dir) }
}

/** `makePki` whose directory is removed with the scope. */
export const pkiScoped: Effect.Effect<Pki, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(makePki),
  (pki) => Effect.sync(() => fs.rmSync(pki.dir, { recursive: true, force: true }))
)

export interface SideConf {
  readonly certfile?: string
  readonly keyfile?: string
  readonly cacertfile?: string
  readonly verify?: "verify_peer" | "verify_none"
  readonly failIfNoPeerCert?: boolean
}

const erlSide = (s: SideConf): string => {
  const opts: Array<string> = []
  if (s.certfile !== undefined) opts.push(`{certfile, ${JSON.stringify(s.certfile)}}`)
  if (s.keyfile !== undefined) opts.push(`{keyfile, ${JSON.stringify(s.keyfile)}}`)
  if (s.cacertfile !== undefined) opts.push(`{cacertfile, ${JSON.stringify(s.cacertfile)}}`)
  if (s.verify !== undefined) opts.push(`{verify, ${s.verify}}`)
  if (s.failIfNoPeerCert !== undefined) opts.push(`{fail_if_no_peer_cert, ${s.failIfNoPeerCert}}`)
  return `[${opts.join(",\n    ")}]`
}

/** An `ssl_dist_optfile` text. */
export const optfileText = (server: SideConf, client: SideConf): string =>
  `%% made by the effect-otp tests\n[{server, ${erlSide(server)}},\n {client, ${erlSide(client)}}].\n`

/** Writes an `ssl_dist_optfile` into the PKI directory and returns its path. */
export const writeOptfile = (pki: Pki, name: string, server: SideConf, client: SideConf): string => {
  const file = path.join(pki.dir, `${name}.conf`)
  fs.writeFileSync(file, optfileText(server, client))
  return file
}

/** Mutual verification with `files` as our identity, trusting `ca`. */
export const strict = (files: CertFiles | undefined, ca: string): { server: SideConf; client: SideConf } => ({
  server: { ...files, cacertfile: ca, verify: "verify_peer", failIfNoPeerCert: true },
  client: { ...files, cacertfile: ca, verify: "verify_peer" }
})
