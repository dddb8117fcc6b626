import { spawn } from "node:child_process"
import { setPriority } from "node:os"
import type { LoadgenConfig } from "./loadgen.ts"
import { root } from "./stats.ts"

export interface LoadgenRun<A> {
  readonly pid: number | undefined
  readonly done: Promise<A>
}

/**
 * Starts `bench/loadgen.ts` in its own process with `config` on stdin; `done` is its result. `nice`: the
 * process's scheduling priority (Linux nice, 0–19): clients that stand for other machines yield the
 * shared cores to the service they measure.
 */
export const spawnLoadgen = <A>(config: LoadgenConfig, verbose = false, nice = 0): LoadgenRun<A> => {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/loadgen.ts"], { cwd: root, stdio: ["pipe", "pipe", "pipe"] })
  if (nice !== 0 && child.pid !== undefined) setPriority(child.pid, nice)
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
