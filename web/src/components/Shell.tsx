import { useQueryClient } from "@tanstack/react-query"
import type { ReactNode } from "react"
import { Link, useLocation } from "wouter"
import { session } from "../api/session.ts"
import { useSession } from "../hooks/useSession.ts"
import { useHrefWithRange } from "../hooks/useUrlState.ts"
import { isCurrent, NAV } from "../nav.ts"
import { TimeRangePicker } from "./TimeRangePicker.tsx"

/** The key's public id (`mplp_<id>_…`): enough to tell keys apart without showing the secret. */
const keyId = (key: string | null) => (key === null ? null : (/^mplp_([0-9a-f]+)_/.exec(key)?.[1] ?? null))

export const Shell = ({ children }: { readonly children: ReactNode }) => {
  const [path] = useLocation()
  const withRange = useHrefWithRange()
  const { key } = useSession()
  const client = useQueryClient()
  const id = keyId(key)
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href={withRange("/")} className="brand">
          <img src="/favicon.svg" alt="" width="20" height="20" />
          MPLP Trace
        </Link>
        <nav aria-label="Pages" className="nav">
          <ul>
            {NAV.map((item) => (
              <li key={item.href}>
                <Link href={withRange(item.href)} aria-current={isCurrent(item, path) ? "page" : undefined}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="topbar-end">
          <TimeRangePicker />
          {key !== null && (
            <button
              type="button"
              className="quiet"
              title={id === null ? "Signed in with a key" : `Signed in with key ${id}`}
              onClick={() => {
                session.signOut()
                client.clear()
              }}
            >
              Sign out
            </button>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  )
}
