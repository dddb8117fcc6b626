import type { LiveChange } from "../../../src/domain/liveViews.ts"

interface Row {
  readonly executionId: string
  readonly status: string
  readonly progressPercentage: number | null
  readonly currentOperation: string | null
}

/**
 * A page of executions with one live change applied to its row; `missing` when the change is about an
 * execution the page does not show (a new one: the page is fetched again to place it).
 */
export const applyLiveChange = <R extends Row, P extends { readonly executions: ReadonlyArray<R> }>(page: P, change: LiveChange): { readonly page: P; readonly missing: boolean } => {
  const e = change.execution
  const at = page.executions.findIndex((r) => r.executionId === e.executionId)
  if (at < 0) return { page, missing: change.kind === "start" || change.kind === "update" }
  const row = page.executions[at]!
  const next: R = { ...row, status: e.status, progressPercentage: e.progressPercentage ?? row.progressPercentage, currentOperation: e.currentOperation }
  const executions = page.executions.map((r, i) => (i === at ? next : r))
  return { page: { ...page, executions }, missing: false }
}
