import { Layer } from "effect"
import { TenantSupervisor } from "./TenantSupervisor.ts"
import { TraceActors } from "./TraceActors.ts"
import { TraceRegistry } from "./TraceRegistry.ts"

/**
 * The execution lifecycle of a process that runs the ingest stage: the durable deadlines (TraceRegistry),
 * the tenant actors and their deadline heap (TenantSupervisor), the running executions' trace actors and
 * their live view (TraceActors, LiveFeed). One instance per process: src/App.ts gives the same layer to
 * the ingest stage and to the provisioner (layers are shared by reference).
 */
export const ExecutionLifecycle = Layer.merge(TenantSupervisor.Live, TraceActors.Live).pipe(Layer.provideMerge(TraceRegistry.Live))
