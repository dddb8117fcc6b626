import type { Random, Service } from "./story.ts"
import type { Gauges } from "./telemetry.ts"

// What the services' own gauges read: CPU and memory around a per-service level, response time the
// mean of the spans each service finished in the last 10 s. During a spike the vector database
// saturates its CPU and the tool server waiting on it follows.

const LEVEL: Record<Service, { cpu: number; memory: number; responseTime: number }> = {
  planner: { cpu: 22, memory: 310, responseTime: 3200 },
  researcher: { cpu: 38, memory: 640, responseTime: 450 },
  "tool-server": { cpu: 27, memory: 210, responseTime: 200 },
  "vector-db": { cpu: 41, memory: 1450, responseTime: 40 }
}
const SPIKE_CPU: Partial<Record<Service, number>> = { "vector-db": 93, "tool-server": 58 }
const RECENT_MS = 10_000

export const makeLoad = (r: Random) => {
  const recent = new Map<Service, Array<{ readonly at: number; readonly durationMs: number }>>()
  const noise = (amplitude: number) => (r() * 2 - 1) * amplitude
  const memory = (s: Service, atMs: number) => LEVEL[s].memory * (1 + 0.04 * Math.sin(atMs / 120_000)) + noise(LEVEL[s].memory * 0.01)

  return {
    record: (service: Service, durationMs: number) => {
      const list = recent.get(service) ?? []
      recent.set(service, list)
      list.push({ at: Date.now(), durationMs })
    },
    /** Now, from what the services did in the last 10 s. */
    gauges: (service: Service, spike: boolean): Gauges => {
      const now = Date.now()
      const list = (recent.get(service) ?? []).filter((x) => x.at > now - RECENT_MS)
      recent.set(service, list)
      const cpu = spike ? SPIKE_CPU[service] ?? LEVEL[service].cpu : LEVEL[service].cpu
      return {
        cpuUsagePercent: Math.min(100, Math.max(0, cpu + noise(4))),
        memoryUsageMb: memory(service, now),
        responseTimeMs: list.length === 0 ? LEVEL[service].responseTime : list.reduce((s, x) => s + x.durationMs, 0) / list.length
      }
    },
    /** At a past time, for the history the demo starts with (no spike there). */
    past: (service: Service, atMs: number): Gauges => ({
      cpuUsagePercent: LEVEL[service].cpu + noise(4),
      memoryUsageMb: memory(service, atMs),
      responseTimeMs: LEVEL[service].responseTime * (1 + noise(0.15))
    })
  }
}
