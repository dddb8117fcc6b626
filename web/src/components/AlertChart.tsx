import { useMemo } from "react"
import type uPlot from "uplot"
import { cssVar, useColorScheme } from "../hooks/useColorScheme.ts"
import type { Band } from "../lib/band.ts"
import { formatDateTime, formatValue } from "../lib/format.ts"
import type { Unit } from "../lib/format.ts"
import { TIME_AXIS } from "../lib/timeAxis.ts"
import { UPlot } from "./UPlot.tsx"

type Options = Omit<uPlot.Options, "width" | "height">

const noPath: uPlot.Series.PathBuilder = () => null

export interface Marker {
  readonly ms: number
  readonly label: string
}

/**
 * The alerted series around the alert: the detector's band (expected ± zWarning·sd) under the
 * observed window means, flagged windows as markers (warning ▲ smaller, critical larger), the
 * threshold as a dashed line and the alert's opening and resolution as labelled verticals.
 */
export const AlertChart = ({ band, unit, threshold, markers, label }: {
  readonly band: Band
  readonly unit: Unit
  readonly threshold: number | null
  readonly markers: ReadonlyArray<Marker>
  readonly label: string
}) => {
  const scheme = useColorScheme()
  const data = useMemo<uPlot.AlignedData>(
    () => [[...band.x], [...band.lower], [...band.upper], [...band.expected], [...band.observed], [...band.warning], [...band.critical]],
    [band]
  )
  const options = useMemo<Options>(() => {
    const fg = cssVar("--muted")
    const grid = cssVar("--border")
    const fmt = (_u: uPlot, v: number | null) => (v === null || v === undefined ? "–" : formatValue(v, unit))
    const drawMarks = (u: uPlot) => {
      const ctx = u.ctx
      const { left, top, width, height } = u.bbox
      ctx.save()
      // uPlot leaves the context as its last axis set it (right-aligned): labels here start at their x.
      ctx.textAlign = "left"
      ctx.textBaseline = "alphabetic"
      ctx.font = `${Math.round(12 * devicePixelRatio)}px system-ui, sans-serif`
      if (threshold !== null) {
        const y = u.valToPos(threshold, "y", true)
        if (y >= top && y <= top + height) {
          ctx.strokeStyle = cssVar("--bad")
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio])
          ctx.lineWidth = devicePixelRatio
          ctx.beginPath()
          ctx.moveTo(left, y)
          ctx.lineTo(left + width, y)
          ctx.stroke()
          ctx.fillStyle = cssVar("--bad")
          ctx.fillText(`threshold ${formatValue(threshold, unit)}`, left + 4 * devicePixelRatio, y - 4 * devicePixelRatio)
        }
      }
      ctx.setLineDash([])
      for (const m of markers) {
        const x = u.valToPos(m.ms / 1000, "x", true)
        if (x < left || x > left + width) continue
        ctx.strokeStyle = cssVar("--fg")
        ctx.lineWidth = 1.5 * devicePixelRatio
        ctx.beginPath()
        ctx.moveTo(x, top)
        ctx.lineTo(x, top + height)
        ctx.stroke()
        ctx.fillStyle = cssVar("--fg")
        const w = ctx.measureText(m.label).width
        // Near the right edge the label goes to the left of its line.
        const tx = x + 4 * devicePixelRatio + w > left + width ? x - 4 * devicePixelRatio - w : x + 4 * devicePixelRatio
        ctx.fillText(m.label, tx, top + 14 * devicePixelRatio)
      }
      ctx.restore()
    }
    return {
      series: [
        { label: "time", value: (_u, v) => (v === null ? "–" : formatDateTime(v * 1000)) },
        { label: "band low", stroke: cssVar("--info"), width: 1, dash: [4, 4], value: fmt, points: { show: false } },
        { label: "band high", stroke: cssVar("--info"), width: 1, dash: [4, 4], value: fmt, points: { show: false } },
        { label: "expected", stroke: cssVar("--info"), width: 1.5, value: fmt, points: { show: false } },
        { label: "observed (window mean)", stroke: cssVar("--fg"), width: 1.5, value: fmt, points: { show: false } },
        { label: "▲ warning", stroke: cssVar("--warn"), paths: noPath, points: { show: true, size: 9, width: 2, fill: cssVar("--warn") }, value: fmt },
        { label: "◆ critical", stroke: cssVar("--bad"), paths: noPath, points: { show: true, size: 13, width: 2, fill: cssVar("--bad") }, value: fmt }
      ],
      bands: [{ series: [2, 1], fill: cssVar("--band") }],
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: TIME_AXIS },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 70, values: (_u, splits) => splits.map((v) => formatValue(v, unit)) }
      ],
      scales: {
        x: { time: true },
        // The threshold stays in view even when every value is far below it.
        y: { range: (_u, min, max) => {
          const lo = Math.min(min, threshold ?? min)
          const hi = Math.max(max, threshold ?? max)
          const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 1
          return [lo - pad, hi + pad]
        } }
      },
      legend: { live: true },
      hooks: { draw: [drawMarks] }
    }
    // Colours come from CSS: rebuilt when the scheme changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [unit, threshold, markers, scheme])
  return <UPlot options={options} data={data} height={320} label={label} />
}
