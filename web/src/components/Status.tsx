// An execution's or a span's status: a symbol and a word, never colour alone.

const STATUS: Readonly<Record<string, { readonly icon: string; readonly tone: string }>> = {
  completed: { icon: "✓", tone: "ok" },
  active: { icon: "●", tone: "info" },
  paused: { icon: "❚❚", tone: "muted" },
  failed: { icon: "✕", tone: "bad" },
  timed_out: { icon: "⏱", tone: "bad" },
  cancelled: { icon: "⊘", tone: "muted" }
}

export const StatusBadge = ({ status }: { readonly status: string }) => {
  const s = STATUS[status] ?? { icon: "•", tone: "muted" }
  return (
    <span className={`badge badge-${s.tone}`}>
      <span aria-hidden="true">{s.icon}</span> {status.replace("_", " ")}
    </span>
  )
}

export const SeverityBadge = ({ severity }: { readonly severity: string }) => (
  <span className={`badge ${severity === "critical" ? "badge-bad" : "badge-warn"}`}>
    <span aria-hidden="true">{severity === "critical" ? "◆" : "▲"}</span> {severity}
  </span>
)

export const ProgressBar = ({ percent, label }: { readonly percent: number | null; readonly label: string }) =>
  percent === null ? null : (
    <span className="progress">
      <progress max={100} value={percent} aria-label={label} />
      <span className="progress-text">{Math.round(percent)} %</span>
    </span>
  )
