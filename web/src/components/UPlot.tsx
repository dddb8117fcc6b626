import { useEffect, useRef } from "react"
import uPlot from "uplot"
import "uplot/dist/uPlot.min.css"

export type { default as uPlotType } from "uplot"

/**
 * uPlot in React: created when `options` change (memoise them), fed new data in place otherwise,
 * and sized to its container's width. uPlot draws, scales, ticks and joins; nothing here does maths.
 */
export const UPlot = ({
  options,
  data,
  height,
  label,
  onReady
}: {
  readonly options: Omit<uPlot.Options, "width" | "height">
  readonly data: uPlot.AlignedData
  readonly height: number
  /** The chart's accessible name (the canvas itself says nothing to a screen reader). */
  readonly label: string
  readonly onReady?: (plot: uPlot) => void
}) => {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const latest = useRef(data)
  latest.current = data

  useEffect(() => {
    const el = box.current
    if (el === null) return
    const p = new uPlot({ ...options, width: Math.max(el.clientWidth, 100), height }, latest.current, el)
    plot.current = p
    onReady?.(p)
    const observer = new ResizeObserver(() => {
      const w = Math.max(el.clientWidth, 100)
      if (w !== p.width) p.setSize({ width: w, height })
    })
    observer.observe(el)
    return () => {
      observer.disconnect()
      p.destroy()
      plot.current = null
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps -- recreated only when the options or height change
  }, [options, height])

  useEffect(() => {
    if (plot.current !== null && plot.current.data !== data) plot.current.setData(data)
  }, [data])

  return <div ref={box} className="uplot-box" role="img" aria-label={label} />
}
