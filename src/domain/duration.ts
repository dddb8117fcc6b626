// Durations as a person reads them, the same in the console (web/src/lib/format.ts re-exports this) and
// in what the service writes for people: the execution analysis's facts and recommendations.

const pad = (n: number) => String(Math.trunc(Math.abs(n))).padStart(2, "0")
const trim = (s: string) => (s.includes(".") ? s.replace(/\.?0+$/, "") : s)

/** 0.42 ms, 12.5 ms, 340 ms, 1.25 s, 42.1 s, 2 min 05 s, 1 h 02 min. */
export const formatDuration = (ms: number | null | undefined): string => {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–"
  const a = Math.abs(ms)
  const sign = ms < 0 ? "-" : ""
  if (a < 1) return `${sign}${trim(a.toFixed(2))} ms`
  if (a < 10) return `${sign}${trim(a.toFixed(2))} ms`
  if (a < 100) return `${sign}${trim(a.toFixed(1))} ms`
  if (a < 1000) return `${sign}${Math.round(a)} ms`
  if (a < 10_000) return `${sign}${trim((a / 1000).toFixed(2))} s`
  if (a < 60_000) return `${sign}${trim((a / 1000).toFixed(1))} s`
  const totalS = Math.round(a / 1000)
  if (totalS < 3600) return `${sign}${Math.floor(totalS / 60)} min ${pad(totalS % 60)} s`
  const totalMin = Math.round(a / 60_000)
  return `${sign}${Math.floor(totalMin / 60)} h ${pad(totalMin % 60)} min`
}

