import { Placeholder } from "../components/Placeholder.tsx"

export default function ExecutionPage() {
  return <Placeholder title="Execution" what="soon" />
}
