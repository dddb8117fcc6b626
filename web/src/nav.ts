import { CONSOLE_PAGES } from "../../src/domain/consolePaths.ts"

// The navigation bar, in order. An item is current on its own path and on its sub-pages.

export interface NavItem {
  readonly href: string
  readonly label: string
}

export const NAV: ReadonlyArray<NavItem> = [
  { href: CONSOLE_PAGES.overview, label: "Overview" },
  { href: CONSOLE_PAGES.executions, label: "Executions" },
  { href: CONSOLE_PAGES.metrics, label: "Metrics" },
  { href: CONSOLE_PAGES.alerts, label: "Alerts" },
  { href: CONSOLE_PAGES.services, label: "Service map" },
  { href: CONSOLE_PAGES.agents, label: "Agents" },
  { href: CONSOLE_PAGES.jobs, label: "Jobs" },
  { href: CONSOLE_PAGES.admin, label: "Admin" }
]

export const isCurrent = (item: NavItem, path: string): boolean =>
  item.href === "/" ? path === "/" : path === item.href || path.startsWith(`${item.href}/`)
