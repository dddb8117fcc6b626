import { COMMON_SECTIONS, getAt, pathId, setAt } from "../../lib/settingsForm.ts"
import type { PlacedIssues } from "../../lib/settingsForm.ts"
import { Field, FieldErrors, NumberInput } from "./Field.tsx"
import { ChannelsEditor } from "./ChannelsEditor.tsx"

type Doc = unknown
type Change = (next: Doc) => void

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Metric name → warning / critical / direction, renamed in place (the record keeps its order). */
const ThresholdsEditor = ({ doc, onChange, placed }: { readonly doc: Doc; readonly onChange: Change; readonly placed: PlacedIssues }) => {
  const raw = getAt(doc, ["thresholds"])
  const rules = Object.entries(isObject(raw) ? raw : {})
  const write = (entries: ReadonlyArray<readonly [string, unknown]>) => onChange(setAt(doc, ["thresholds"], Object.fromEntries(entries)))
  const rename = (i: number, name: string) => write(rules.map(([k, v], j) => (j === i ? [name, v] : [k, v])))
  const setRule = (i: number, field: string, v: unknown) => write(rules.map(([k, r], j) => (j === i ? [k, setAt(r, [field], v)] : [k, r])))
  return (
    <fieldset data-field="thresholds">
      <legend>Thresholds</legend>
      <FieldErrors id="thresholds-errors" messages={placed.byField.get("thresholds")} />
      {rules.length === 0 ? (
        <p className="muted">No threshold: only the detector raises metric alerts.</p>
      ) : (
        <table className="table sub-table">
          <thead>
            <tr>
              <th scope="col">Metric</th>
              <th scope="col">Warning at</th>
              <th scope="col">Critical at</th>
              <th scope="col">Direction</th>
              <th scope="col">
                <span className="visually-hidden">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rules.map(([name, rule], i) => {
              const at = (f: string) => `thresholds.${name}.${f}`
              const rowErrors = placed.byField.get(`thresholds.${name}`)
              return (
                <tr key={i} data-field={`thresholds.${name}`}>
                  <td>
                    <input aria-label={`Metric name of threshold ${i + 1}`} value={name} spellCheck={false} onChange={(e) => rename(i, e.target.value)} />
                    <FieldErrors id={`th-${i}-errors`} messages={rowErrors} />
                  </td>
                  {(["warning", "critical"] as const).map((f) => {
                    const errs = placed.byField.get(at(f))
                    return (
                      <td key={f} data-field={at(f)} className={errs === undefined ? undefined : "has-error field"}>
                        <NumberInput id={`th-${i}-${f}`} aria-label={`${name} ${f} threshold`} aria-invalid={errs !== undefined} aria-describedby={`th-${i}-${f}-errors`} value={getAt(rule, [f])} onChange={(v) => setRule(i, f, v)} />
                        <FieldErrors id={`th-${i}-${f}-errors`} messages={errs} />
                      </td>
                    )
                  })}
                  <td data-field={at("direction")}>
                    <select aria-label={`${name} direction`} value={String(getAt(rule, ["direction"]) ?? "")} onChange={(e) => setRule(i, "direction", e.target.value === "" ? undefined : e.target.value)}>
                      <option value="">above (default)</option>
                      <option value="above">above</option>
                      <option value="below">below</option>
                    </select>
                    <FieldErrors id={`th-${i}-dir-errors`} messages={placed.byField.get(at("direction"))} />
                  </td>
                  <td>
                    <button type="button" onClick={() => write(rules.filter((_, j) => j !== i))} aria-label={`Remove the threshold of ${name}`}>
                      Remove
                    </button>
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
      <button type="button" disabled={rules.some(([k]) => k === "")} onClick={() => write([...rules, ["", {}]])}>
        Add a threshold
      </button>
    </fieldset>
  )
}

/** The common fields as a form; the rest of the document (and unknown sections) is kept as it is. */
export const SettingsForm = ({ doc, original, onChange, placed }: { readonly doc: Doc; readonly original: Doc; readonly onChange: Change; readonly placed: PlacedIssues }) => (
  <div className="settings-form">
    {COMMON_SECTIONS.map((s) => (
      <fieldset key={s.title}>
        <legend>{s.title}</legend>
        <div className="settings-grid">
          {s.fields.map((f) => {
            const id = pathId(f.path)
            const errors = placed.byField.get(id)
            return f.kind === "boolean" ? (
              <div key={id} className={`field${errors === undefined ? "" : " has-error"}`} data-field={id}>
                <label className="check">
                  <input type="checkbox" checked={getAt(doc, f.path) === true} onChange={(e) => onChange(setAt(doc, f.path, e.target.checked))} aria-describedby={`${id}-errors`} />
                  {f.label}
                </label>
                <span className="hint">{f.hint}</span>
                <FieldErrors id={`${id}-errors`} messages={errors} />
              </div>
            ) : (
              <Field key={id} field={id} label={f.label} hint={f.hint} unit={f.unit} errors={errors}>
                {(props) => <NumberInput {...props} className="num-input" value={getAt(doc, f.path)} onChange={(v) => onChange(setAt(doc, f.path, v))} />}
              </Field>
            )
          })}
        </div>
      </fieldset>
    ))}
    <ThresholdsEditor doc={doc} onChange={onChange} placed={placed} />
    <ChannelsEditor doc={doc} original={original} onChange={onChange} placed={placed} />
  </div>
)
