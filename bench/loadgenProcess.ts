import { spawn } from "node:child_process"
import type { LoadgenConfig } from "./loadgen.ts"
import { root } from "./stats.ts"

export interface LoadgenRun<A> {
  readonly pid: number | undefined
  readonly done: Promise<A>
}

/** Starts `bench/loadgen.ts` in its own process with `config` on stdin; `done` is its result. */
export const spawnLoadgen = <A>(config: LoadgenConfig, verbose = false): LoadgenRun<A> => {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/loadgen.ts"], { cwd: root, stdio: ["pipe", "pipe", "pipe"] })
  let out = ""
  let err = ""
  child.stdout.on("data", (d: Buffer) => (out += d.toString()))
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString()
    if (verbose) process.stderr.write(d)
  })
  child.stdin.end(JSON.stringify(config))
  const done = new Promise<A>((resolve, reject) => {
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? ""
      try {
        const parsed = JSON.parse(line) as { ok: boolean; result?: A; error?: string }
        if (parsed.ok && parsed.result !== undefined) resolve(parsed.result)
        else reject(new Error(`loadgen (${config.mode}) failed: ${parsed.error ?? "no result"}`))
      } catch {
        reject(new Error(`loadgen (${config.mode}) exited ${code} without a result:\n${err.slice(-3000)}`))
      }
    })
  })
  return { pid: child.pid, done }
}
