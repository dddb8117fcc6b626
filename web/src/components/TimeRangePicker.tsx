import { useQueryClient } from "@tanstack/react-query"
import { useEffect, useId, useRef, useState } from "react"
import type { FormEvent } from "react"
import { useTimeRange } from "../hooks/useUrlState.ts"
import { formatDateTime, formatLocal, formatOffset, localOffsetMinutes } from "../lib/format.ts"
import { normaliseInput, parseTime, PRESETS, relativeLabel, resolveRange, shiftRange, zoomOut } from "../lib/timeRange.ts"
import type { TimeRange } from "../lib/timeRange.ts"

/** An absolute end as the person reads it (local time), a relative one as written. */
const shown = (s: string, offset: number) => {
  const ms = parseTime(s, Date.now())
  return ms === null || s.startsWith("now") ? s : formatLocal(ms, offset)
}

export const describeRange = (r: TimeRange): string => {
  const label = relativeLabel(r)
  if (label !== null) return label
  const now = Date.now()
  const from = parseTime(r.from, now)
  const to = parseTime(r.to, now)
  if (from === null || to === null) return `${r.from} → ${r.to}`
  const f = r.from.startsWith("now") ? r.from : formatDateTime(from)
  const t = r.to.startsWith("now") ? r.to : formatDateTime(to)
  return `${f} → ${t}`
}

/** Grafana's picker: quick relative ranges, or both ends typed (now-6h, 2026-11-26 10:00, ISO). */
export const TimeRangePicker = () => {
  const { range, setRange } = useTimeRange()
  const client = useQueryClient()
  const [open, setOpen] = useState(false)
  const offset = localOffsetMinutes()
  const [from, setFrom] = useState(range.from)
  const [to, setTo] = useState(range.to)
  const [error, setError] = useState<string | null>(null)
  const box = useRef<HTMLDivElement>(null)
  const first = useRef<HTMLInputElement>(null)
  const button = useRef<HTMLButtonElement>(null)
  const id = useId()

  useEffect(() => {
    if (!open) return
    setFrom(shown(range.from, offset))
    setTo(shown(range.to, offset))
    setError(null)
    first.current?.focus()
    const outside = (e: MouseEvent) => {
      if (box.current !== null && !box.current.contains(e.target as Node)) setOpen(false)
    }
    document.addEventListener("mousedown", outside)
    return () => document.removeEventListener("mousedown", outside)
  }, [open, range.from, range.to, offset])

  const choose = (r: TimeRange) => {
    setRange(r)
    setOpen(false)
    button.current?.focus()
  }
  const apply = (e: FormEvent) => {
    e.preventDefault()
    const f = normaliseInput(from, offset)
    const t = normaliseInput(to, offset)
    if (f === null || t === null) return setError(`"${f === null ? from : to}" is not a time: use now-6h, 2026-11-26 10:00 or an ISO-8601 time`)
    const resolved = resolveRange({ from: f, to: t }, Date.now())
    if ("error" in resolved) return setError(resolved.error)
    choose({ from: f, to: t })
  }
  const resolved = resolveRange(range, Date.now())
  const valid = !("error" in resolved)

  return (
    <div
      className="picker"
      ref={box}
      onKeyDown={(e) => {
        if (e.key !== "Escape" || !open) return
        setOpen(false)
        button.current?.focus()
      }}
    >
      <button type="button" className="quiet" aria-label="Earlier: move the range back" title="Earlier" disabled={!valid} onClick={() => valid && setRange(shiftRange(resolved, -1))}>
        ‹
      </button>
      <button
        ref={button}
        type="button"
        className="picker-button"
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        onClick={() => setOpen(!open)}
      >
        <span className="picker-label">{describeRange(range)}</span>
        <span aria-hidden="true"> ▾</span>
      </button>
      <button type="button" className="quiet" aria-label="Later: move the range forward" title="Later" disabled={!valid} onClick={() => valid && setRange(shiftRange(resolved, 1))}>
        ›
      </button>
      <button type="button" className="quiet" aria-label="Zoom out: twice the range" title="Zoom out" disabled={!valid} onClick={() => valid && setRange(zoomOut(resolved))}>
        ⊖
      </button>
      <button type="button" className="quiet" aria-label="Refresh now" title="Refresh" onClick={() => void client.invalidateQueries()}>
        ⟳
      </button>
      {open && (
        <div className="picker-popover" role="dialog" id={id} aria-label="Time range">
          <form onSubmit={apply} className="picker-form">
            <h2>Range</h2>
            <label>
              From
              <input ref={first} value={from} onChange={(e) => setFrom(e.target.value)} spellCheck={false} aria-invalid={error !== null} />
            </label>
            <label>
              To
              <input value={to} onChange={(e) => setTo(e.target.value)} spellCheck={false} aria-invalid={error !== null} />
            </label>
            <p className="hint">
              now-6h, now, 2026-11-26 10:00 ({formatOffset(offset)}) or ISO-8601
            </p>
            {error !== null && (
              <p className="field-error" role="alert">
                {error}
              </p>
            )}
            <button type="submit" className="primary">
              Apply
            </button>
          </form>
          <div className="picker-presets">
            <h2>Quick ranges</h2>
            <ul>
              {PRESETS.map((p) => (
                <li key={p.from}>
                  <button type="button" className={p.from === range.from && p.to === range.to ? "preset current" : "preset"} aria-pressed={p.from === range.from && p.to === range.to} onClick={() => choose(p)}>
                    {relativeLabel(p)}
                  </button>
                </li>
              ))}
            </ul>
          </div>
        </div>
      )}
    </div>
  )
}
