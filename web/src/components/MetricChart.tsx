import { useMemo } from "react"
import uPlot from "uplot"
import type { Series } from "../api/client.ts"
import { cssVar, useColorScheme } from "../hooks/useColorScheme.ts"
import type { Band } from "../lib/band.ts"
import { serviceColor } from "../lib/colors.ts"
import { formatValue } from "../lib/format.ts"
import type { Unit } from "../lib/format.ts"
import { markPainted } from "../perf.ts"
import { UPlot } from "./UPlot.tsx"

type Options = Omit<uPlot.Options, "width" | "height">

const noPath: uPlot.Series.PathBuilder = () => null

/** uPlot's time-axis table (tick step → format; a second format where the day/year changes), in 24-hour ISO style. */
const TIME_AXIS: uPlot.Axis["values"] = [
  [3600 * 24 * 365, "{YYYY}", null, null, null, null, null, null, 1],
  [3600 * 24 * 28, "{YYYY}-{MM}", null, null, null, null, null, null, 1],
  [3600 * 24, "{MM}-{DD}", "\n{YYYY}", null, null, null, null, null, 1],
  [3600, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
  [60, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
  [1, "{HH}:{mm}:{ss}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
  [0.001, "{HH}:{mm}:{ss}.{fff}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1]
]

/**
 * The metric's series (one per service when grouped) and, under them, the detector's expected band
 * for one series with its observed window means and the anomalous windows as markers. uPlot aligns
 * the differently spaced columns (uPlot.join), scales, ticks and draws in local time.
 */
export const MetricChart = ({ series, band, bandLabel, unit, onZoom }: {
  readonly series: Series
  readonly band: Band | null
  readonly bandLabel: string
  readonly unit: Unit
  readonly onZoom: (fromMs: number, toMs: number) => void
}) => {
  const scheme = useColorScheme()
  const data = useMemo<uPlot.AlignedData>(() => {
    // The band first, so it is drawn under the series; the detector's observed values and markers last, over them.
    const tables: Array<uPlot.AlignedData> = series.series.map((s) => [s.points.map((p) => Date.parse(p.time) / 1000), s.points.map((p) => p.value)])
    if (band !== null) {
      tables.unshift([[...band.x], [...band.lower], [...band.upper]])
      tables.push([[...band.x], [...band.observed], [...band.warning], [...band.critical]])
    }
    if (tables.length === 0) return [[]]
    return tables.length === 1 ? tables[0]! : uPlot.join(tables)
  }, [series, band])

  const options = useMemo<Options>(() => {
    const fg = cssVar("--muted")
    const grid = cssVar("--border")
    const fmt = (v: number | null) => (v === null || v === undefined ? "–" : formatValue(v, unit))
    const lines: Array<uPlot.Series> = series.series.map((s) => {
      const color = s.service === null ? cssVar("--accent") : serviceColor(s.service)
      return { label: s.service ?? series.name, stroke: color, width: 1.5, value: (_u, v) => fmt(v), spanGaps: false }
    })
    const under: Array<uPlot.Series> =
      band === null
        ? []
        : [
            { label: `expected − z·sd (${bandLabel})`, stroke: cssVar("--info"), width: 1, dash: [4, 4], value: (_u, v) => fmt(v), points: { show: false } },
            { label: "expected + z·sd", stroke: cssVar("--info"), width: 1, dash: [4, 4], value: (_u, v) => fmt(v), points: { show: false } }
          ]
    const over: Array<uPlot.Series> =
      band === null
        ? []
        : [
            { label: "observed (window mean)", stroke: cssVar("--fg"), width: 1.25, value: (_u, v) => fmt(v), points: { show: false } },
            { label: "warning", stroke: cssVar("--warn"), fill: cssVar("--warn"), paths: noPath, points: { show: true, size: 9, width: 2, fill: cssVar("--warn") }, value: (_u, v) => fmt(v) },
            { label: "critical", stroke: cssVar("--bad"), fill: cssVar("--bad"), paths: noPath, points: { show: true, size: 13, width: 2, fill: cssVar("--bad") }, value: (_u, v) => fmt(v) }
          ]
    return {
      series: [{ label: "time", value: "{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}" }, ...under, ...lines, ...over],
      bands: band === null ? [] : [{ series: [2, 1], fill: cssVar("--band") }],
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: TIME_AXIS },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 70, values: (_u, splits) => splits.map((v) => fmt(v)) }
      ],
      scales: { x: { time: true } },
      cursor: { drag: { x: true, y: false, setScale: false } },
      legend: { live: true },
      hooks: {
        draw: [() => markPainted("chart")],
        setSelect: [
          (u) => {
            if (u.select.width < 5) return
            const from = u.posToVal(u.select.left, "x") * 1000
            const to = u.posToVal(u.select.left + u.select.width, "x") * 1000
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
            onZoom(Math.round(from), Math.round(to))
          }
        ]
      }
    }
    // Colours come from CSS: rebuild when the scheme changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [series.series.length, series.name, series.series.map((s) => s.service).join("\u0000"), band === null, bandLabel, unit, scheme, onZoom])

  const points = series.series.reduce((n, s) => n + s.points.length, 0)
  return (
    <UPlot
      options={options}
      data={data}
      height={340}
      label={`${series.name}: ${points} points in ${series.series.length} series${band === null ? "" : `, with the expected band of ${bandLabel} and ${band.anomalies} anomalous windows`}. Drag across the chart to zoom into a time range.`}
    />
  )
}
