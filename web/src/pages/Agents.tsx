import { Placeholder } from "../components/Placeholder.tsx"

export default function AgentsPage() {
  return <Placeholder title="Agents" what="agents, models and tools of GenAI traces" />
}
