import { Placeholder } from "../components/Placeholder.tsx"

export default function AlertsPage() {
  return <Placeholder title="Alerts" what="open, acknowledged and resolved alerts by severity, with acknowledgement" />
}
