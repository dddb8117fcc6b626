import { useEffect, useId, useState } from "react"
import type { ReactNode } from "react"
import { parseNumberInput, showValue } from "../../lib/settingsForm.ts"

/** The server's messages for a field, right under it and named by its input (aria-describedby). */
export const FieldErrors = ({ id, messages }: { readonly id: string; readonly messages: ReadonlyArray<string> | undefined }) =>
  messages === undefined || messages.length === 0 ? null : (
    <span className="field-errors" id={id} role="alert">
      {messages.map((m, i) => (
        <span key={i} className="field-error">
          <span aria-hidden="true">✕ </span>
          {m}
        </span>
      ))}
    </span>
  )

/** A labelled field of the settings document, `data-field` its path as the server names it. */
export const Field = ({ field, label, hint, unit, errors, children }: {
  readonly field: string
  readonly label: ReactNode
  readonly hint?: string
  readonly unit?: string
  readonly errors: ReadonlyArray<string> | undefined
  readonly children: (props: { readonly id: string; readonly "aria-invalid": boolean; readonly "aria-describedby": string }) => ReactNode
}) => {
  const id = useId()
  const bad = errors !== undefined && errors.length > 0
  return (
    <div className={`field${bad ? " has-error" : ""}`} data-field={field}>
      <label htmlFor={id}>{label}</label>
      <div className="field-with-unit">
        {children({ id, "aria-invalid": bad, "aria-describedby": `${id}-hint ${id}-error` })}
        {unit !== undefined && <span className="muted">{unit}</span>}
      </div>
      {hint !== undefined && (
        <span className="hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
      <FieldErrors id={`${id}-error`} messages={errors} />
    </div>
  )
}

/**
 * A number kept as typed while it is being typed ("0." stays "0."), written to the document as a
 * number when it is one and as the text otherwise (the server then names the error).
 */
export const NumberInput = ({ value, onChange, ...rest }: {
  readonly value: unknown
  readonly onChange: (v: number | string | undefined) => void
  readonly id: string
  readonly "aria-invalid": boolean
  readonly "aria-describedby": string
  readonly className?: string
  readonly "aria-label"?: string
}) => {
  const [text, setText] = useState(showValue(value))
  useEffect(() => {
    if (parseNumberInput(text) !== value) setText(showValue(value))
    // Only an outside change of the value (reset, JSON editor) replaces what is being typed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value])
  return (
    <input
      {...rest}
      inputMode="decimal"
      spellCheck={false}
      value={text}
      onChange={(e) => {
        setText(e.target.value)
        onChange(parseNumberInput(e.target.value))
      }}
    />
  )
}
