import { Placeholder } from "../components/Placeholder.tsx"

export default function ExecutionsPage() {
  return <Placeholder title="Executions" what="soon" />
}
