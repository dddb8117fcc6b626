import { parseArgs } from "node:util"
import { argsOrUsage } from "../src/config/cliArgs.ts"

// `npm start`: the API and every stage in one process, with a demo tenant on an empty database.
// (The Docker image runs workers/run.ts instead: no demo tenant there.)
argsOrUsage("usage: all.ts (no arguments; workers/run.ts runs a chosen part)", () => parseArgs({ options: {}, strict: true, allowPositionals: false }))
const { preflightConfig } = await import("../src/config/AppConfig.ts")
preflightConfig()
const { STAGES } = await import("../src/queues/Queues.ts")
const { runProcess } = await import("../src/main.ts")
runProcess({ api: true, stages: STAGES, concurrency: Number(process.env.MPLP_CONCURRENCY ?? 4), demoTenant: true })
