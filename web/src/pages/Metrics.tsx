import { Placeholder } from "../components/Placeholder.tsx"

export default function MetricsPage() {
  return <Placeholder title="Metrics" what="soon" />
}
