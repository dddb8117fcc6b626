import { useRef } from "react"
import type { KeyboardEvent, ReactNode } from "react"
import { useParam, useSetParams } from "../hooks/useUrlState.ts"

/** ARIA tabs whose choice lives in the URL (`?tab=`), arrows moving between them. */
export const Tabs = ({ tabs }: { readonly tabs: ReadonlyArray<{ readonly id: string; readonly label: string; readonly body: () => ReactNode }> }) => {
  const current = useParam("tab") ?? tabs[0]!.id
  const setParams = useSetParams()
  const list = useRef<HTMLDivElement>(null)
  const tab = tabs.find((t) => t.id === current) ?? tabs[0]!
  const choose = (id: string) => setParams({ tab: id }, { replace: true })
  const onKey = (e: KeyboardEvent) => {
    const i = tabs.findIndex((t) => t.id === tab.id)
    const next = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : null
    if (next === null) return
    const t = tabs[(next + tabs.length) % tabs.length]!
    choose(t.id)
    list.current?.querySelector<HTMLElement>(`#tab-${t.id}`)?.focus()
  }
  return (
    <div className="card">
      <div role="tablist" aria-label="Execution details" className="tabs" ref={list} onKeyDown={onKey}>
        {tabs.map((t) => (
          <button key={t.id} id={`tab-${t.id}`} type="button" role="tab" aria-selected={t.id === tab.id} aria-controls={`panel-${t.id}`} tabIndex={t.id === tab.id ? 0 : -1} onClick={() => choose(t.id)}>
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab.id}`} aria-labelledby={`tab-${tab.id}`} className="tab-panel">
        {tab.body()}
      </div>
    </div>
  )
}
