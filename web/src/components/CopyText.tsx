import { useState } from "react"

/** A block of text (a command, a new key) with a button that copies it, saying so when it has. */
export const CopyText = ({ text, label, inline = false }: { readonly text: string; readonly label: string; readonly inline?: boolean }) => {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle")
  const copy = () => {
    const done = (ok: boolean) => {
      setState(ok ? "copied" : "failed")
      window.setTimeout(() => setState("idle"), 2000)
    }
    if (navigator.clipboard === undefined) return done(false)
    navigator.clipboard.writeText(text).then(() => done(true), () => done(false))
  }
  return (
    <div className={inline ? "copyable copyable-inline" : "copyable"}>
      {inline ? (
        <code tabIndex={0} aria-label={label}>
          {text}
        </code>
      ) : (
        <pre tabIndex={0} aria-label={label}>
          {text}
        </pre>
      )}
      <button type="button" className="quiet" onClick={copy} aria-label={`Copy ${label}`}>
        {state === "copied" ? "✓ Copied" : state === "failed" ? "Select and copy it" : "Copy"}
      </button>
      <span className="visually-hidden" role="status">
        {state === "copied" ? "Copied to the clipboard" : ""}
      </span>
    </div>
  )
}
