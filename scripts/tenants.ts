import { parseArgs } from "node:util"
import { argsOrUsage, usageError } from "../src/config/cliArgs.ts"
import type { Scope } from "../src/domain/ids.ts"

// Listed here, not read from the Scope schema, so that a bad command line is refused before the service
// loads; the type check below fails the build if a scope is added to the schema and not here.
const SCOPES = ["ingest", "query", "alerts"] as const satisfies ReadonlyArray<Scope>
const everyScope: [Exclude<Scope, (typeof SCOPES)[number]>] extends [never] ? true : never = true
void everyScope

const usage = `usage: npm run tenants -- <command>
  create <id> [--name NAME]                 create a tenant (default settings from tenants/default.json)
  keys <id> [--scopes ${SCOPES.join(",")}] [--name NAME]
                                            create an API key (default scopes ingest,query); the key is printed once
  revoke <keyId>                            revoke a key
  list                                      list tenants
  reencrypt                                 rewrite every webhook secret under the current MPLP_SECRET_KEY`

// Which flags and how many arguments each command takes: anything else is refused, not ignored.
const COMMANDS: Record<string, { readonly args: number; readonly flags: ReadonlyArray<"name" | "scopes"> }> = {
  create: { args: 1, flags: ["name"] },
  keys: { args: 1, flags: ["scopes", "name"] },
  revoke: { args: 1, flags: [] },
  list: { args: 0, flags: [] },
  reencrypt: { args: 0, flags: [] }
}

const { values, positionals } = argsOrUsage(usage, () =>
  parseArgs({ options: { name: { type: "string" }, scopes: { type: "string" } }, allowPositionals: true, strict: true })
)
const [command = "", ...args] = positionals
const spec = COMMANDS[command] ?? usageError(usage, command === "" ? "no command" : `unknown command "${command}"`)
if (args.length !== spec.args) usageError(usage, `${command} takes ${spec.args === 0 ? "no argument" : `${spec.args} argument`}, not ${args.length}`)
for (const flag of Object.keys(values)) {
  if (!(spec.flags as ReadonlyArray<string>).includes(flag)) usageError(usage, `${command} does not take --${flag}`)
}
const scopes = (values.scopes ?? "ingest,query").split(",").map((s) => s.trim())
const unknownScope = scopes.find((s) => !(SCOPES as ReadonlyArray<string>).includes(s))
if (unknownScope !== undefined) usageError(usage, `unknown scope "${unknownScope}" (${SCOPES.join(", ")})`)
const id = args[0] ?? ""

const { Effect, Layer } = await import("effect")
const { MigratedDb } = await import("../src/App.ts")
const { TenantStore } = await import("../src/tenants/TenantStore.ts")
const { runCommand } = await import("./cli.ts")

const program = Effect.gen(function* () {
  const store = yield* TenantStore
  switch (command) {
    case "create": {
      const t = yield* store.createTenant(id, values.name ?? id)
      console.log(`created tenant ${t.id} (${t.name})`)
      return
    }
    case "keys": {
      const k = yield* store.createKey(id, scopes as Array<Scope>, values.name)
      console.log(`key ${k.keyId} for tenant ${id} with scopes ${k.scopes.join(",")} (shown once):\n${k.key}`)
      return
    }
    case "revoke": {
      yield* store.revokeKey(id)
      console.log(`revoked key ${id}`)
      return
    }
    case "list": {
      for (const t of yield* store.listTenants) console.log(t)
      return
    }
    case "reencrypt": {
      const r = yield* store.resealSecrets
      console.log(`webhook secrets rewritten for ${r.rewritten} of ${r.tenants} tenants`)
      if (r.unreadable.length > 0) {
        console.log(`left as they were (encrypted with a key that is neither MPLP_SECRET_KEY nor in MPLP_SECRET_KEY_PREVIOUS): ${r.unreadable.join(", ")}`)
      }
      return
    }
  }
})

runCommand(program.pipe(Effect.provide(TenantStore.Live.pipe(Layer.provide(MigratedDb)))))
