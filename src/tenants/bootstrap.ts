import { Effect } from "effect"
import { Scope } from "../domain/ids.ts"
import { TenantStore } from "./TenantStore.ts"

/** On an empty database: a `demo` tenant and a key with every scope, printed once. */
export const ensureDemoTenant = Effect.gen(function* () {
  const store = yield* TenantStore
  const tenants = yield* store.listTenants
  if (tenants.length > 0) return
  yield* store.createTenant("demo", "Demo tenant")
  const key = yield* store.createKey("demo", Scope.literals, "demo")
  yield* Effect.sync(() =>
    process.stdout.write(
      `\n  Demo tenant created. Its API key (shown once, only its hash is stored):\n\n    ${key.key}\n\n` +
        `  Try: curl -H "Authorization: Bearer ${key.key}" -H 'content-type: application/json' \\\n` +
        `         -d '{"points":[{"name":"cpuUsagePercent","value":42,"serviceName":"checkout"}]}' http://localhost:8080/api/metrics\n\n`
    )
  )
})
