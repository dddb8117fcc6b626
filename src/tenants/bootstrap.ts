import { HttpServer } from "@effect/platform"
import { Effect, Option } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { TenantStore } from "./TenantStore.ts"

/** The port the API listens on: the bound one when this process serves it (PORT=0 picks one), else PORT. */
const listeningPort = Effect.gen(function* () {
  const server = yield* Effect.serviceOption(HttpServer.HttpServer)
  const address = Option.map(server, (s) => s.address)
  if (Option.isSome(address) && address.value._tag === "TcpAddress") return address.value.port
  return (yield* AppConfig).port
})

/** What `npm start` prints for a new demo tenant: the console's sign-in link and a first request. */
export const demoBanner = (key: string, port: number) => {
  const base = `http://localhost:${port}`
  return (
    `\n  Demo tenant created. Its API key (shown once, only its hash is stored):\n\n    ${key}\n\n` +
    `  Console: ${base}/#key=${key}\n\n` +
    `  Demo workload (agents, tools, LLM calls, a latency spike every 3 min): npm run demo -- --url ${base} --key ${key}\n\n` +
    `  Try: curl -H "Authorization: Bearer ${key}" -H 'content-type: application/json' \\\n` +
    `         -d '{"points":[{"name":"cpuUsagePercent","value":42,"serviceName":"checkout"}]}' ${base}/api/metrics\n\n`
  )
}

/**
 * On an empty database: a `demo` tenant and a key with both scopes, printed once with the console link.
 * Provided with the API's HttpServer when this process serves it, so the link has the bound port.
 */
export const ensureDemoTenant = Effect.gen(function* () {
  const store = yield* TenantStore
  const tenants = yield* store.listTenants
  if (tenants.length > 0) return
  yield* store.createTenant("demo", "Demo tenant")
  const key = yield* store.createKey("demo", ["ingest", "query"], "demo")
  const port = yield* listeningPort
  yield* Effect.sync(() => process.stdout.write(demoBanner(key.key, port)))
})
