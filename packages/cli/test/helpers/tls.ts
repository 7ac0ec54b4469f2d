/**
 * Test helper: the shell's TLS distribution files, made with the one TLS test helper of
 * the repository (`packages/dist/test/helpers/tls.ts`): its throwaway PKI and an
 * `ssl_dist_optfile` (mutual verification) that `erl` and the shell both read.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Tls from "../../../dist/test/helpers/tls.js"

export { opensslAvailable } from "../../../dist/test/helpers/tls.js"

export interface Pki {
  readonly dir: string
  /** mutual verification (verify_peer both ways, fail_if_no_peer_cert) with the node certificate */
  readonly optfile: string
  /** as `optfile`, but its certfile does not exist */
  readonly missingCertOptfile: string
  /** removes the directory */
  readonly remove: () => void
}

/** Makes a CA and a node certificate for this host's short name, `localhost`, `127.0.0.1`, and the optfiles. */
export const makePki = (): Pki => {
  const pki = Tls.makePki()
  const conf = (name: string, files: Tls.CertFiles) => {
    const { client, server } = Tls.strict(files, pki.cacert)
    return Tls.writeOptfile(pki, name, server, client)
  }
  return {
    dir: pki.dir,
    optfile: conf("ssl_dist", pki.node),
    missingCertOptfile: conf("missing_cert", { ...pki.node, certfile: path.join(pki.dir, "missing.pem") }),
    remove: () => fs.rmSync(pki.dir, { recursive: true, force: true })
  }
}
