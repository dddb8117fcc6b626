import { useMemo } from "react"
import type uPlot from "uplot"
import { UPlot } from "./UPlot.tsx"

/** A small trend line without axes: the shape of the last range, the number beside it says the value. */
export const Sparkline = ({ x, y, color, label }: { readonly x: ReadonlyArray<number>; readonly y: ReadonlyArray<number | null>; readonly color: string; readonly label: string }) => {
  const options = useMemo<Omit<uPlot.Options, "width" | "height">>(
    () => ({
      legend: { show: false },
      cursor: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > min ? max : min + 1] } },
      series: [{}, { stroke: color, width: 1.5, fill: `${color}33`, points: { show: false } }],
      padding: [2, 0, 2, 0]
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
