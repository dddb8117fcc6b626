// The web console's pages. The server answers these paths with the console's index.html (the SPA
// fallback) and the console's route table is built from them, so a page added here is reachable both
// by a link inside the console and by a reload or a pasted URL.

export const CONSOLE_PAGES = {
  overview: "/",
  executions: "/executions",
  execution: "/executions/:executionId",
  metrics: "/metrics",
  alerts: "/alerts",
  alert: "/alerts/:alertId",
  services: "/services",
  jobs: "/jobs",
  admin: "/admin",
  agents: "/agents"
} as const

export type ConsolePage = keyof typeof CONSOLE_PAGES

/** `/metrics` is also the Prometheus endpoint: it serves the console only to a browser (Accept: text/html). */
export const NEGOTIATED_PAGES: ReadonlyArray<string> = [CONSOLE_PAGES.metrics]
