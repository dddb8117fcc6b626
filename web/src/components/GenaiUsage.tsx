import { useMemo } from "react"
import type uPlot from "uplot"
import type { GenaiUsage } from "../api/client.ts"
import { cssVar, useColorScheme } from "../hooks/useColorScheme.ts"
import { PALETTE } from "../lib/colors.ts"
import { formatCalls, formatCount, formatDateTime, formatDuration, formatPercent, formatTokens, formatUsd, nothingPriced } from "../lib/format.ts"
import { TIME_AXIS } from "../lib/timeAxis.ts"
import { UPlot } from "./UPlot.tsx"

type Group = GenaiUsage["groups"][number]

export const totalsOf = (groups: ReadonlyArray<Group>) =>
  groups.reduce(
    (t, g) => ({
      calls: t.calls + g.calls,
      errors: t.errors + g.errors,
      inputTokens: t.inputTokens + g.inputTokens,
      outputTokens: t.outputTokens + g.outputTokens,
      cacheTokens: t.cacheTokens + g.cacheReadTokens + g.cacheWriteTokens,
      costUsd: t.costUsd + g.costUsd,
      unpricedTokens: t.unpricedTokens + g.unpricedTokens
    }),
    { calls: 0, errors: 0, inputTokens: 0, outputTokens: 0, cacheTokens: 0, costUsd: 0, unpricedTokens: 0 }
  )

export const UsageCards = ({ groups }: { readonly groups: ReadonlyArray<Group> }) => {
  const t = totalsOf(groups)
  return (
    <div className="cards">
      <div className="card stat">
        <h2>Calls</h2>
        <p className="stat-value">{formatCount(t.calls)}</p>
        <p className={t.errors > 0 ? "text-bad" : "muted"}>
          {t.errors > 0 && <span aria-hidden="true">⚠ </span>}
          {formatCount(t.errors)} errors ({formatPercent(t.calls === 0 ? 0 : t.errors / t.calls)})
        </p>
      </div>
      <div className="card stat">
        <h2>Tokens</h2>
        <p className="stat-value">{formatTokens(t.inputTokens + t.outputTokens)}</p>
        <p className="muted">
          {formatCount(t.inputTokens, true)} in · {formatCount(t.outputTokens, true)} out · {formatCount(t.cacheTokens, true)} cache
        </p>
      </div>
      <div className="card stat">
        <h2>Cost</h2>
        <p className="stat-value">{nothingPriced(t.costUsd, t.unpricedTokens) ? "–" : formatUsd(t.costUsd)}</p>
        <p className="muted">{nothingPriced(t.costUsd, t.unpricedTokens) ? "no call had a price in the tenant's price table" : "USD, from the tenant's price table"}</p>
      </div>
      <div className="card stat">
        <h2>Unpriced tokens</h2>
        <p className={`stat-value${t.unpricedTokens > 0 ? " text-warn" : ""}`}>
          {t.unpricedTokens > 0 && <span aria-hidden="true">▲ </span>}
          {formatTokens(t.unpricedTokens)}
        </p>
        <p className="muted">{t.unpricedTokens > 0 ? "no price matched their model: not in the cost" : "every call had a price"}</p>
      </div>
    </div>
  )
}

export const UsageTable = ({ groups, groupBy }: { readonly groups: ReadonlyArray<Group>; readonly groupBy: string }) => (
  <div className="table-wrap">
    <table className="table usage-table">
      <thead>
        <tr>
          <th scope="col" className="key">
            {groupBy}
          </th>
          <th scope="col" className="num">Calls</th>
          <th scope="col" className="num">Errors</th>
          <th scope="col" className="num">Input</th>
          <th scope="col" className="num">Output</th>
          <th scope="col" className="num">Cache read</th>
          <th scope="col" className="num">Cache write</th>
          <th scope="col" className="num">Cost</th>
          <th scope="col" className="num">Unpriced</th>
          <th scope="col" className="num">p50</th>
          <th scope="col" className="num">p95</th>
        </tr>
      </thead>
      <tbody>
        {groups.map((g) => (
          <tr key={g.key} data-usage-key={g.key}>
            <th scope="row" className="key" title={g.key}>
              {g.key === "" ? <span className="muted">(none)</span> : g.key}
            </th>
            <td className="num">{formatCount(g.calls)}</td>
            <td className={`num${g.errors > 0 ? " text-bad" : ""}`}>
              {g.errors > 0 && <span aria-hidden="true">⚠ </span>}
              {formatCount(g.errors)}
            </td>
            <td className="num">{formatCount(g.inputTokens)}</td>
            <td className="num">{formatCount(g.outputTokens)}</td>
            <td className="num">{formatCount(g.cacheReadTokens)}</td>
            <td className="num">{formatCount(g.cacheWriteTokens)}</td>
            <td className={`num${nothingPriced(g.costUsd, g.unpricedTokens) ? " muted" : ""}`}>{nothingPriced(g.costUsd, g.unpricedTokens) ? "no price" : formatUsd(g.costUsd)}</td>
            <td className={`num${g.unpricedTokens > 0 ? " text-warn" : ""}`}>{formatCount(g.unpricedTokens)}</td>
            <td className="num">{formatDuration(g.p50Ms)}</td>
            <td className="num">{formatDuration(g.p95Ms)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </div>
)

export const MEASURES = {
  tokens: { label: "tokens (in + out)", of: (s: { inputTokens: number; outputTokens: number }) => s.inputTokens + s.outputTokens, format: formatTokens },
  cost: { label: "cost (USD)", of: (s: { costUsd: number }) => s.costUsd, format: formatUsd },
  calls: { label: "calls", of: (s: { calls: number }) => s.calls, format: (n: number) => formatCalls(n) }
} as const
export type Measure = keyof typeof MEASURES

const SHOWN = 8

/** The biggest groups over time, one line each, in the chosen measure per bucket. */
export const UsageChart = ({ groups, measure }: { readonly groups: ReadonlyArray<Group>; readonly measure: Measure }) => {
  const scheme = useColorScheme()
  const m = MEASURES[measure]
  const top = useMemo(() => [...groups].filter((g) => (g.series?.length ?? 0) > 0).sort((a, b) => m.of(b) - m.of(a)).slice(0, SHOWN), [groups, m])
  const data = useMemo<uPlot.AlignedData>(() => {
    const times = [...new Set(top.flatMap((g) => (g.series ?? []).map((p) => Date.parse(p.time))))].sort((a, b) => a - b)
    const index = new Map(times.map((t, i) => [t, i]))
    return [
      times.map((t) => t / 1000),
      ...top.map((g) => {
        const col: Array<number | null> = times.map(() => null)
        for (const p of g.series ?? []) col[index.get(Date.parse(p.time))!] = m.of(p)
        return col
      })
    ]
  }, [top, m])
  const options = useMemo<Omit<uPlot.Options, "width" | "height">>(() => {
    const fg = cssVar("--muted")
    const grid = cssVar("--border")
    return {
      series: [
        { label: "time", value: (_u, v) => (v === null ? "–" : formatDateTime(v * 1000)) },
        ...top.map((g, i) => ({ label: g.key === "" ? "(none)" : g.key, stroke: PALETTE[i % PALETTE.length], width: 1.5, value: (_u: uPlot, v: number | null) => (v === null ? "–" : m.format(v)) }))
      ],
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: TIME_AXIS },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 80, values: (_u, splits) => splits.map((v) => m.format(v)) }
      ],
      scales: { x: { time: true } },
      legend: { live: true }
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [top.map((g) => g.key).join("\u0000"), measure, scheme])
  if (top.length === 0) return <p className="muted">No usage per bucket in this range.</p>
  return <UPlot options={options} data={data} height={260} label={`${m.label} per bucket for the ${top.length} biggest groups`} />
}
