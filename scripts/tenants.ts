import { Effect, Layer } from "effect"
import { MigratedDb } from "../src/App.ts"
import { Scope } from "../src/domain/ids.ts"
import { TenantStore } from "../src/tenants/TenantStore.ts"
import { runCommand } from "./cli.ts"

const usage = `usage: npm run tenants -- <command>
  create <id> [--name NAME]          create a tenant (default settings from tenants/default.json)
  keys <id> [--scopes ingest,query]  create an API key for a tenant; the key is printed once
  revoke <keyId>                     revoke a key
  list                               list tenants`

const [command, ...rest] = process.argv.slice(2)
const flag = (name: string) => {
  const i = rest.indexOf(`--${name}`)
  return i >= 0 ? rest[i + 1] : undefined
}
const positional = rest.filter((a, i) => !a.startsWith("--") && !(rest[i - 1]?.startsWith("--") ?? false))

const program = Effect.gen(function* () {
  const store = yield* TenantStore
  switch (command) {
    case "create": {
      const id = positional[0]
      if (id === undefined) return yield* Effect.fail(new Error(usage))
      const t = yield* store.createTenant(id, flag("name") ?? id)
      console.log(`created tenant ${t.id} (${t.name})`)
      return
    }
    case "keys": {
      const id = positional[0]
      if (id === undefined) return yield* Effect.fail(new Error(usage))
      const scopes = (flag("scopes") ?? "ingest,query").split(",").map((s) => s.trim())
      for (const s of scopes) if (!Scope.literals.includes(s as Scope)) return yield* Effect.fail(new Error(`unknown scope "${s}" (ingest, query)`))
      const k = yield* store.createKey(id, scopes as Array<Scope>, flag("name"))
      console.log(`key ${k.keyId} for tenant ${id} with scopes ${k.scopes.join(",")} (shown once):\n${k.key}`)
      return
    }
    case "revoke": {
      const keyId = positional[0]
      if (keyId === undefined) return yield* Effect.fail(new Error(usage))
      yield* store.revokeKey(keyId)
      console.log(`revoked key ${keyId}`)
      return
    }
    case "list": {
      for (const id of yield* store.listTenants) console.log(id)
      return
    }
    default:
      return yield* Effect.fail(new Error(usage))
  }
})

runCommand(program.pipe(Effect.provide(TenantStore.Live.pipe(Layer.provide(MigratedDb)))))
