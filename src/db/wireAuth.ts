import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto"
import type { Socket } from "node:net"
import { join } from "node:path"

/**
 * The password check of the embedded database's wire server: SCRAM-SHA-256 (RFC 5802/7677, what
 * PostgreSQL and node-postgres speak), done before a connection queues for the database, so a client
 * that never signs in holds nothing. SCRAM rather than a clear-text password: whoever listens on the
 * port while the server is down (any local user may) learns a one-time proof, not the password.
 *
 * One iteration: the password is 24 random bytes, which stretching cannot make harder to guess, while
 * every connection (they are closed after MPLP_DB_IDLE_MS, a few ms) would pay 4096 of them in CPU.
 */
const ITERATIONS = 1

/** Where workers/db.ts keeps the password (generated on first start, readable by its owner only). */
export const passwordFile = (dataDir: string) => join(dataDir, "wire-password")
const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104

const hmac = (key: Uint8Array, data: string) => createHmac("sha256", key).update(data, "utf8").digest()
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest()

const message = (type: string, body: Buffer) => {
  const head = Buffer.alloc(5)
  head.write(type, 0, "ascii")
  head.writeInt32BE(4 + body.length, 1)
  return Buffer.concat([head, body])
}
const int32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}
const authentication = (code: number, data: Buffer = Buffer.alloc(0)) => message("R", Buffer.concat([int32(code), data]))
const fatal = (text: string) =>
  message("E", Buffer.concat([Buffer.from(`SFATAL\0VFATAL\0C28P01\0M${text}\0\0`, "utf8")]))

export interface Verifier {
  readonly salt: Buffer
  readonly storedKey: Buffer
  readonly serverKey: Buffer
}

export const makeVerifier = (password: string): Verifier => {
  const salt = randomBytes(16)
  const salted = pbkdf2Sync(password, salt, ITERATIONS, 32, "sha256")
  return { salt, storedKey: sha256(hmac(salted, "Client Key")), serverKey: hmac(salted, "Server Key") }
}

/** `[length][code|params]` startup-phase messages, then `[type][length][body]` ones. */
class Framer {
  private buffered: Buffer = Buffer.alloc(0)
  started = false
  push(chunk: Buffer) {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
  }
  next(): Buffer | undefined {
    const header = this.started ? 5 : 4
    if (this.buffered.length < header) return undefined
    const size = this.buffered.readInt32BE(this.started ? 1 : 0) + (this.started ? 1 : 0)
    // A startup message has at least its length and code; a typed one its type and length. Sign-in messages are small.
    if (size < (this.started ? 5 : 8) || size > 1 << 16) throw new Error("bad message length")
    if (this.buffered.length < size) return undefined
    const m = this.buffered.subarray(0, size)
    this.buffered = this.buffered.subarray(size)
    return m
  }
  rest(): Buffer {
    return this.buffered
  }
}

/**
 * Runs the startup and SCRAM exchange on a fresh socket. Resolves with the client's StartupMessage
 * (for the database, once the connection's turn comes) and any bytes that followed it, or undefined
 * when the client failed or gave up (the socket is then closed). Refuses TLS and GSS encryption ('N'):
 * the server listens on loopback only.
 */
export const authenticate = (socket: Socket, verifier: Verifier, timeoutMs = 10_000) =>
  new Promise<{ readonly startup: Buffer; readonly rest: Buffer } | undefined>((resolve) => {
    const framer = new Framer()
    let startup: Buffer | undefined
    let clientFirstBare = ""
    let gs2Header = ""
    let serverFirst = ""
    let nonce = ""
    const done = (result: { startup: Buffer; rest: Buffer } | undefined, reply?: Buffer) => {
      clearTimeout(timer)
      socket.removeListener("data", onData)
      socket.removeListener("close", onClose)
      socket.pause()
      if (result === undefined) {
        if (reply !== undefined && socket.writable) socket.end(reply)
        else socket.destroy()
      }
      resolve(result)
    }
    const refuse = (text = "password authentication failed") => done(undefined, fatal(text))
    /** Refuses and stops reading. */
    const stop = (text?: string) => {
      refuse(text)
      return false
    }
    const onClose = () => done(undefined)
    const timer = setTimeout(() => refuse("authentication timed out"), timeoutMs)

    const handle = (m: Buffer): boolean => {
      if (!framer.started) {
        const code = m.readInt32BE(4)
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          socket.write("N")
          return true
        }
        if (code >> 16 !== 3) return stop("unsupported protocol version")
        framer.started = true
        startup = Buffer.from(m)
        socket.write(authentication(10, Buffer.from("SCRAM-SHA-256\0\0", "ascii")))
        return true
      }
      if (m[0] !== 0x70) return stop("expected a password message") // 'p'
      const body = m.subarray(5)
      if (serverFirst === "") {
        const end = body.indexOf(0)
        if (end < 0 || body.subarray(0, end).toString("ascii") !== "SCRAM-SHA-256") return stop("only SCRAM-SHA-256 is supported")
        const clientFirst = body.subarray(end + 5).toString("utf8")
        const match = /^([ny],[^,]*,)(.*,r=([^,]+).*)$/.exec(clientFirst)
        if (match === null) return stop("malformed SCRAM client-first message")
        gs2Header = match[1] ?? ""
        clientFirstBare = match[2] ?? ""
        nonce = `${match[3] ?? ""}${randomBytes(18).toString("base64")}`
        serverFirst = `r=${nonce},s=${verifier.salt.toString("base64")},i=${ITERATIONS}`
        socket.write(authentication(11, Buffer.from(serverFirst, "utf8")))
        return true
      }
      const clientFinal = body.toString("utf8")
      const at = clientFinal.lastIndexOf(",p=")
      const withoutProof = clientFinal.slice(0, at)
      const proof = Buffer.from(clientFinal.slice(at + 3), "base64")
      const fields = new Map(withoutProof.split(",").map((f) => [f.slice(0, 1), f.slice(2)] as const))
      const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`
      const clientKey = Buffer.from(hmac(verifier.storedKey, authMessage).map((b, i) => b ^ (proof[i] ?? 0)))
      const ok =
        at > 0 && proof.length === 32 &&
        fields.get("c") === Buffer.from(gs2Header, "utf8").toString("base64") &&
        fields.get("r") === nonce &&
        timingSafeEqual(sha256(clientKey), verifier.storedKey)
      if (!ok || startup === undefined) return stop()
      socket.write(authentication(12, Buffer.from(`v=${hmac(verifier.serverKey, authMessage).toString("base64")}`, "utf8")))
      done({ startup, rest: framer.rest() })
      return false
    }

    const onData = (chunk: Buffer) => {
      framer.push(chunk)
      try {
        for (let m = framer.next(); m !== undefined; m = framer.next()) if (!handle(m)) return
      } catch {
        refuse("malformed message")
      }
    }
    socket.on("data", onData)
    socket.on("close", onClose)
    socket.resume()
  })
