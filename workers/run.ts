import { parseArgs } from "node:util"
import { argsOrUsage, usageError } from "../src/config/cliArgs.ts"
import type { Stage } from "../src/queues/Queues.ts"

// One process of a scaled-out deployment: `tsx workers/run.ts --api --stage ingest --stage aggregate --concurrency 8`,
// or `--stage all`. Stages are named ingest, aggregate, detect, alert.
const usage = "usage: run.ts [--api] [--stage ingest|aggregate|detect|alert|all]... [--concurrency N]"
const { values } = argsOrUsage(usage, () =>
  parseArgs({
    options: { api: { type: "boolean", default: false }, stage: { type: "string", multiple: true, default: [] }, concurrency: { type: "string" } },
    strict: true,
    allowPositionals: false
  })
)
const concurrency = Number(values.concurrency ?? process.env.MPLP_CONCURRENCY ?? 4)
if (!Number.isInteger(concurrency) || concurrency < 1) usageError(usage, "--concurrency must be a positive integer")
if (!values.api && values.stage.length === 0) usageError(usage, "nothing to run: give --api and/or --stage")

// The service is loaded once the command line is known to be good: a refusal does not wait for it.
const { preflightConfig } = await import("../src/config/AppConfig.ts")
preflightConfig()
const { STAGES } = await import("../src/queues/Queues.ts")
const { runProcess } = await import("../src/main.ts")
const stages = new Set<Stage>()
for (const s of values.stage) {
  if (s === "all") STAGES.forEach((x) => stages.add(x))
  else if ((STAGES as ReadonlyArray<string>).includes(s)) stages.add(s as Stage)
  else usageError(usage, `unknown stage "${s}" (one of ${STAGES.join(", ")}, all)`)
}
runProcess({ api: values.api, stages: [...stages], concurrency, demoTenant: false })
