import { lazy } from "react"
import type { ComponentType, LazyExoticComponent } from "react"
import { CONSOLE_PAGES } from "../../src/domain/consolePaths.ts"

// The console's route table: one page per URL (paths shared with the server's SPA fallback).
// `needs` says which secret the page reads with: the tenant key, or the admin token.

export interface PageRoute {
  readonly path: string
  readonly page: LazyExoticComponent<ComponentType>
  readonly needs: "tenant" | "admin"
}

export const ROUTES: ReadonlyArray<PageRoute> = [
  { path: CONSOLE_PAGES.overview, page: lazy(() => import("./pages/Overview.tsx")), needs: "tenant" },
  { path: CONSOLE_PAGES.executions, page: lazy(() => import("./pages/Executions.tsx")), needs: "tenant" },
  { path: CONSOLE_PAGES.execution, page: lazy(() => import("./pages/Execution.tsx")), needs: "tenant" },
  { path: CONSOLE_PAGES.metrics, page: lazy(() => import("./pages/Metrics.tsx")), needs: "tenant" },
  { path: CONSOLE_PAGES.alerts, page: lazy(() => import("./pages/Alerts.tsx")), needs: "tenant" },
  { path: CONSOLE_PAGES.alert, page: lazy(() => import("./pages/Alert.tsx")), needs: "tenant" },
  { path: CONSOLE_PAGES.services, page: lazy(() => import("./pages/Services.tsx")), needs: "tenant" },
  { path: CONSOLE_PAGES.agents, page: lazy(() => import("./pages/Agents.tsx")), needs: "tenant" },
  { path: CONSOLE_PAGES.jobs, page: lazy(() => import("./pages/Jobs.tsx")), needs: "tenant" },
  { path: CONSOLE_PAGES.admin, page: lazy(() => import("./pages/Admin.tsx")), needs: "admin" }
]
