/**
 * Test helper: a throwaway CA and node certificate made with the `openssl` CLI in a
 * temp directory, and an `ssl_dist_optfile` (mutual verification) that `erl` and the
 * shell both read. A smaller copy of `packages/dist/test/helpers/tls.ts` (test helpers
 * are not exported across packages).
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** Whether `openssl` runs here (it fails loudly under CI otherwise). */
export const opensslAvailable = (): boolean => {
  const ok = spawnSync("openssl", ["version"], { encoding: "utf8" }).status === 0
  if (!ok) {
    if (process.env.CI) throw new Error("openssl is required under CI")
    console.warn("\n*** openssl is not available: skipping the shell's TLS distribution test ***\n")
  }
  return ok
}

const openssl = (cwd: string, args: ReadonlyArray<string>) =>
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] })

export interface Pki {
  readonly dir: string
  /** mutual verification (verify_peer both ways, fail_if_no_peer_cert) with the node certificate */
  readonly optfile: string
  /** as `optfile`, but its certfile does not exist */
  readonly missingCertOptfile: string
  /** removes the directory */
  readonly remove: () => void
}

/** Makes a CA and a node certificate for `vm`, `localhost`, `127.0.0.1`, and the optfiles. */
export const makePki = (): Pki => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-otp-cli-tls-"))
  fs.writeFileSync(
    path.join(dir, "ca.ext"),
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
  )
  fs.writeFileSync(
    path.join(dir, "node.ext"),
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" +
      "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:vm,DNS:localhost,IP:127.0.0.1\n"
  )
  for (const name of ["ca", "node"]) {
    openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`])
    openssl(dir, ["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`])
  }
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    "ca.csr",
    "-signkey",
    "ca.key",
    "-days",
    "2",
    "-extfile",
    "ca.ext",
    "-out",
    "ca.pem"
  ])
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    "node.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-set_serial",
    "1",
    "-days",
    "2",
    "-extfile",
    "node.ext",
    "-out",
    "node.pem"
  ])
  const side = (certfile: string, server: boolean) =>
    `[{certfile, ${JSON.stringify(certfile)}}, {keyfile, ${JSON.stringify(path.join(dir, "node.key"))}}, ` +
    `{cacertfile, ${JSON.stringify(path.join(dir, "ca.pem"))}}, {verify, verify_peer}` +
    (server ? ", {fail_if_no_peer_cert, true}]" : "]")
  const write = (name: string, certfile: string) => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, `[{server, ${side(certfile, true)}},\n {client, ${side(certfile, false)}}].\n`)
    return file
  }
  return {
    dir,
    optfile: write("ssl_dist.conf", path.join(dir, "node.pem")),
    missingCertOptfile: write("missing_cert.conf", path.join(dir, "missing.pem")),
    remove: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}
