import { startRedisCluster, keysPerMaster } from "../tests/support/redisCluster.ts"
import { openClient, waitForReplicas, deleteKeysWithPrefix } from "../src/queues/Redis.ts"
import { parseRedisTarget } from "../src/queues/redisTarget.ts"
import { Queue } from "bullmq"
const t0 = Date.now()
const c = await startRedisCluster()
console.log("started", Date.now() - t0, c.url, await c.masters())
try {
  const target = parseRedisTarget(c.url, false)
  if (target._tag === "Left") throw new Error(target.left)
  const cl = openClient(target.right, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false })
  await cl.connect()
  console.log("status", cl.status)
  const q = new Queue("ingest", { connection: cl, prefix: "{zz:p3}" })
  await q.add("x", { a: 1 }, { jobId: "t.1" })
  console.log("wait", await waitForReplicas(cl, q.toKey("meta"), 1, 1000))
  for (let i = 0; i < 20; i++) await cl.set(`{zz:t:${i}}:x`, "1")
  console.log(await keysPerMaster(c, "zz"))
  await q.close()
  await cl.quit()
  await deleteKeysWithPrefix(c.url, "zz")
  console.log(await keysPerMaster(c, "zz"))
} finally { await c.stop() }
