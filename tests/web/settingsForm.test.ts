import { Either } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { decodeSettings } from "../../src/domain/settings.ts"
import { settingsIssues } from "../../src/tenants/TenantStore.ts"
import { formFields, getAt, parseJsonDoc, parseNumberInput, placeIssues, setAt } from "../../web/src/lib/settingsForm.ts"

const defaults = JSON.parse(readFileSync(new URL("../../tenants/default.json", import.meta.url), "utf8")) as unknown

/** The issues the server answers for `doc` (the same decode and formatter as PUT …/settings). */
const serverIssues = (doc: unknown) => {
  const r = decodeSettings(defaults, doc)
  return Either.isLeft(r) ? settingsIssues(r.left) : []
}

describe("settings document paths", () => {
  it("reads and writes a field by path without touching the rest", () => {
    const doc = { detector: { zWarning: 3, zCritical: 4.5 }, channels: [{ id: "log", type: "log" }] }
    expect(getAt(doc, ["detector", "zWarning"])).toBe(3)
    expect(getAt(doc, ["channels", "0", "id"])).toBe("log")
    expect(getAt(doc, ["nope", "x"])).toBeUndefined()
    const next = setAt(doc, ["detector", "zWarning"], 2)
    expect(next).toEqual({ detector: { zWarning: 2, zCritical: 4.5 }, channels: [{ id: "log", type: "log" }] })
    expect(doc.detector.zWarning).toBe(3)
    expect(setAt(doc, ["channels", "0", "events"], ["alert_resolved"])).toMatchObject({ channels: [{ id: "log", type: "log", events: ["alert_resolved"] }] })
    expect(setAt(doc, ["detector", "zCritical"], undefined)).toMatchObject({ detector: { zWarning: 3 } })
    expect(setAt({}, ["thresholds", "http.server.duration", "warning"], 5)).toEqual({ thresholds: { "http.server.duration": { warning: 5 } } })
  })

  it("keeps what is typed into a number field when it is not a number (the server names the error)", () => {
    expect(parseNumberInput(" 42 ")).toBe(42)
    expect(parseNumberInput("0.5")).toBe(0.5)
    expect(parseNumberInput("-1e3")).toBe(-1000)
    expect(parseNumberInput("12abc")).toBe("12abc")
    expect(parseNumberInput("0x10")).toBe("0x10")
    expect(parseNumberInput("")).toBeUndefined()
  })

  it("parses the JSON editor's text or says why not", () => {
    expect(parseJsonDoc('{"a":1}')).toEqual({ ok: true, value: { a: 1 } })
    const bad = parseJsonDoc('{"a":}')
    expect(bad.ok).toBe(false)
  })
})

describe("the server's 400 issues, each at its field", () => {
  const doc = {
    ...(defaults as object),
    thresholds: { "http.server.duration": { warning: 1 } },
    channels: [{ id: "log", type: "log" }, { id: "hook", type: "webhook", url: "https://example.com", secret: "s" }]
  }
  const fields = formFields(doc)

  it("lists the common fields, each threshold's and each channel's, and their groups", () => {
    expect(fields).toContain("detector.zWarning")
    expect(fields).toContain("thresholds.http.server.duration.warning")
    expect(fields).toContain("channels.1.url")
    expect(fields).toContain("channels.1")
  })

  it("a field's own error goes next to it", () => {
    const placed = placeIssues(serverIssues({ detector: { zWarning: -1 } }), fields)
    expect([...placed.byField]).toEqual([["detector.zWarning", ["detector.zWarning must be > 0"]]])
    expect(placed.unplaced).toEqual([])
    const typed = placeIssues(serverIssues({ windows: { sizeSeconds: "abc" } }), fields)
    expect([...typed.byField.keys()]).toEqual(["windows.sizeSeconds"])
  })

  it("a check across fields, reported at their parent, goes to the field its message names", () => {
    const issues = serverIssues({ detector: { zWarning: 5, zCritical: 4 } })
    expect(issues).toEqual([{ path: "detector", message: "detector.zCritical must be >= detector.zWarning" }])
    expect([...placeIssues(issues, fields).byField]).toEqual([["detector.zCritical", ["detector.zCritical must be >= detector.zWarning"]]])
  })

  it("a channel's and a threshold's errors go to their fields, without a union's noise", () => {
    const placed = placeIssues(serverIssues({
      channels: [{ id: "log", type: "log" }, { id: "hook", type: "webhook", url: "ftp://x", secret: "" }],
      thresholds: { "http.server.duration": { warning: "a" } }
    }), fields)
    expect(placed.byField.get("channels.1.url")).toEqual(["url must use http or https, not ftp:"])
    expect(placed.byField.get("channels.1.secret")).toEqual(["secret must not be empty"])
    expect(placed.byField.get("thresholds.http.server.duration.warning")).toEqual(['Expected number, actual "a"'])
  })

  it("an unknown key inside a group goes to the group; one the form has no place for is listed apart", () => {
    const placed = placeIssues(serverIssues({ bogus: 1, channels: [{ id: "log", type: "log", colour: "red" }] }), formFields({ channels: [{ id: "log", type: "log" }] }))
    expect(placed.byField.get("channels.0")?.[0]).toMatch(/^colour: is unexpected/)
    expect(placed.unplaced.map((i) => i.path)).toEqual(["bogus"])
  })
})
