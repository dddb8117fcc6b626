import { useSyncExternalStore } from "react"
import { session } from "../api/session.ts"
import { serviceStatus } from "../api/status.ts"

export const useSession = () => useSyncExternalStore(session.subscribe, session.get)
export const useServiceStatus = () => useSyncExternalStore(serviceStatus.subscribe, serviceStatus.get)
