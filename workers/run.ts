import { STAGES } from "../src/queues/Queues.ts"
import type { Stage } from "../src/queues/Queues.ts"
import { runProcess } from "../src/main.ts"

// One process of a scaled-out deployment: `tsx workers/run.ts --api --stage ingest --stage aggregate --concurrency 8`,
// or `--stage all`. Stages are named ingest, aggregate, detect, alert.
const args = process.argv.slice(2)
const stages = new Set<Stage>()
let api = false
let concurrency = Number(process.env.MPLP_CONCURRENCY ?? 4)
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === "--api") api = true
  else if (a === "--stage") {
    const s = args[++i] ?? ""
    if (s === "all") STAGES.forEach((x) => stages.add(x))
    else if ((STAGES as ReadonlyArray<string>).includes(s)) stages.add(s as Stage)
    else {
      process.stderr.write(`mplp-trace: unknown stage "${s}" (one of ${STAGES.join(", ")}, all)\n`)
      process.exit(2)
    }
  } else if (a === "--concurrency") concurrency = Number(args[++i])
  else {
    process.stderr.write(`mplp-trace: unknown argument "${a}"; usage: run.ts [--api] [--stage NAME|all]... [--concurrency N]\n`)
    process.exit(2)
  }
}
if (!Number.isInteger(concurrency) || concurrency < 1) {
  process.stderr.write("mplp-trace: --concurrency must be a positive integer\n")
  process.exit(2)
}
if (!api && stages.size === 0) {
  process.stderr.write("mplp-trace: nothing to run: give --api and/or --stage\n")
  process.exit(2)
}
runProcess({ api, stages: [...stages], concurrency, demoTenant: false })
