import { STAGES } from "../src/queues/Queues.ts"
import { runProcess } from "../src/main.ts"

// `npm start`: the API and every stage in one process, with a demo tenant on an empty database.
runProcess({ api: true, stages: STAGES, concurrency: Number(process.env.MPLP_CONCURRENCY ?? 4), demoTenant: true })
