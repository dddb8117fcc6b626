import { startRedisCluster } from "../tests/support/redisCluster.ts"
import { openClient } from "../src/queues/Redis.ts"
import { parseRedisTarget } from "../src/queues/redisTarget.ts"
const c = await startRedisCluster()
try {
  const target = parseRedisTarget(c.url, false)
  if (target._tag === "Left") throw new Error(target.left)
  const cl = openClient(target.right, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true, commandTimeout: 2000, connectTimeout: 2000 })
  cl.on("error", () => {})
  await cl.connect()
  const slot = Number(await c.cli(c.ports[0]!, "CLUSTER", "KEYSLOT", "{x}"))
  const m = await c.masters()
  // find master of slot
  const nodes = (await c.cli(c.ports[0]!, "CLUSTER", "NODES")).split("\n")
  let victim = 0
  for (const l of nodes) if (/master/.test(l)) for (const r of l.split(" ").slice(8)) { const [a,b] = r.split("-").map(Number); if (slot >= a! && slot <= (b ?? a)!) victim = Number(/:(\d+)@/.exec(l)![1]) }
  console.log("masters", m, "victim", victim)
  const t0 = Date.now()
  c.kill(victim)
  let lastErr = ""
  for (let i = 0; i < 200; i++) {
    try { await cl.set("{x}:a", String(i)); console.log(Date.now() - t0, "ok"); if (i > 5) break } catch (e) { const msg = String(e).slice(0, 100); if (msg !== lastErr) console.log(Date.now() - t0, msg); lastErr = msg }
    await new Promise((r) => setTimeout(r, 200))
  }
  await cl.quit()
} finally { await c.stop() }
