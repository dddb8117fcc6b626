import { Duration, Effect, Layer, Queue, Stream } from "effect"
import { watch } from "node:fs"
import { readdir, readFile } from "node:fs/promises"
import { basename, join } from "node:path"
import { AppConfig } from "../config/AppConfig.ts"
import { messageOf } from "../domain/errors.ts"
import { TenantStore } from "./TenantStore.ts"
import { TenantSupervisor } from "../executions/TenantSupervisor.ts"

const isTenantFile = (f: string) => f.endsWith(".json") && f !== "default.json"

/**
 * Applies `tenants/<id>.json` at start and whenever a file changes, like provisioning files elsewhere:
 * the file creates the tenant if needed and replaces its settings. A bad file is refused with the
 * field named in the log; the tenant keeps its settings and no other tenant is touched.
 */
export const applyTenantFile = (dir: string, file: string) =>
  Effect.gen(function* () {
    const store = yield* TenantStore
    const id = basename(file, ".json")
    const text = yield* Effect.tryPromise(() => readFile(join(dir, file), "utf8"))
    const doc = yield* Effect.try(() => JSON.parse(text) as unknown)
    const { name, ...settings } = (typeof doc === "object" && doc !== null ? doc : {}) as Record<string, unknown>
    const exists = yield* store.tenantExists(id)
    if (exists) yield* store.putSettings(id, settings, "file")
    else yield* store.createTenant(id, typeof name === "string" ? name : id, settings, "file")
    // A running tenant actor restarts with the new settings (where this process runs actors).
    const supervisor = yield* Effect.serviceOption(TenantSupervisor)
    if (supervisor._tag === "Some") yield* supervisor.value.reload(id)
    yield* Effect.logInfo(`applied tenant file ${file}`)
  }).pipe(
    Effect.catchAll((e) =>
      Effect.logError(`tenant file ${file} refused: ${messageOf(e)}`)
    ),
    Effect.annotateLogs({ tenantFile: file })
  )

export const Provisioner = Layer.scopedDiscard(
  Effect.gen(function* () {
    const { tenantsDir } = yield* AppConfig
    const files = yield* Effect.tryPromise(() => readdir(tenantsDir)).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    yield* Effect.forEach(files.filter(isTenantFile), (f) => applyTenantFile(tenantsDir, f), { discard: true })
    const changes = yield* Queue.sliding<string>(1024)
    const watcher = yield* Effect.acquireRelease(
      Effect.try(() => watch(tenantsDir, (_event, name) => {
        if (name !== null && isTenantFile(name)) Queue.unsafeOffer(changes, name)
      })).pipe(Effect.option),
      (w) => Effect.sync(() => w._tag === "Some" && w.value.close())
    )
    if (watcher._tag === "None") return
    // Editors write a file in several events: wait for it to settle, then apply each file once.
    yield* Stream.fromQueue(changes).pipe(
      Stream.groupedWithin(1000, Duration.millis(300)),
      Stream.mapEffect((names) => Effect.forEach(new Set(names), (f) => applyTenantFile(tenantsDir, f), { discard: true })),
      Stream.runDrain,
      Effect.forkScoped
    )
  })
)
