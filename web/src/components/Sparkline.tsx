import { useMemo } from "react"
import type uPlot from "uplot"
import { UPlot } from "./UPlot.tsx"

/** The indices of values whose neighbours are both missing (uPlot's points.filter), or null for none. */
const isolatedPoints = (ys: ArrayLike<number | null | undefined>): Array<number> | null => {
  const out: Array<number> = []
  for (let i = 0; i < ys.length; i++) if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) out.push(i)
  return out.length === 0 ? null : out
}

const isolated = (u: uPlot, seriesIdx: number): Array<number> | null => isolatedPoints(u.data[seriesIdx] ?? [])

/** A small trend line without axes: the shape of the last range, the number beside it says the value. */
export const Sparkline = ({ x, y, color, label }: { readonly x: ReadonlyArray<number>; readonly y: ReadonlyArray<number | null>; readonly color: string; readonly label: string }) => {
  const options = useMemo<Omit<uPlot.Options, "width" | "height">>(
    () => ({
      legend: { show: false },
      cursor: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > min ? max : min + 1] } },
      // A value with no value either side (one bucket with requests in a range of empty ones) has no line
      // to be part of: it is drawn as a dot, or the trend would look empty.
      series: [{}, { stroke: color, width: 1.5, fill: `${color}33`, points: { show: false, size: 4, fill: color, filter: isolated } }],
      padding: [4, 0, 2, 0]
    }),
    [color]
  )
  const data = useMemo<uPlot.AlignedData>(() => [[...x], [...y]], [x, y])
  if (x.length === 0) return <span className="muted">–</span>
  return (
    <span className="sparkline">
      <UPlot options={options} data={data} height={28} label={label} />
    </span>
  )
}
