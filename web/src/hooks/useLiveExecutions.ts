import { useQueryClient } from "@tanstack/react-query"
import { useEffect, useState } from "react"
import type { Page } from "../api/client.ts"
import { followLive } from "../api/live.ts"
import { applyLiveChange } from "../lib/liveRows.ts"

/**
 * Keeps the cached page under `queryKey` up to date from the live view while `enabled`: a change moves
 * its row's progress, operation and status; an execution not on the page fetches the page again.
 * True while the live view is connected (the page then needs no polling).
 */
export const useLiveExecutions = (enabled: boolean, queryKey: ReadonlyArray<unknown>) => {
  const client = useQueryClient()
  const [connected, setConnected] = useState(false)
  const keyText = JSON.stringify(queryKey)
  useEffect(() => {
    if (!enabled) return
    const stop = followLive({
      onConnected: setConnected,
      onChange: (change) => {
        const page = client.getQueryData<Page>(queryKey)
        if (page === undefined) return
        const { page: next, missing } = applyLiveChange(page, change)
        if (missing) void client.invalidateQueries({ queryKey, exact: true })
        else client.setQueryData(queryKey, next)
      }
    })
    return () => {
      stop()
      setConnected(false)
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [enabled, keyText, client])
  return enabled && connected
}
