import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import {
  acknowledge,
  initialAlertState,
  notifies,
  step,
  withAlertId,
  type Action,
  type AlertState,
  type Evaluation,
  type PolicyConfig
} from "../../src/alerting/policy.ts"
import type { Severity } from "../../src/detection/thresholds.ts"

const numRuns = 200
const MIN = 60_000
const config: PolicyConfig = { cooldownMs: 5 * 60_000, resolveAfterWindows: 3, renotify: true }
const ev = (severity: Severity, windowStartMs: number, value = 1): Evaluation => ({
  seriesKey: "t1|cpu",
  rule: "anomaly",
  severity,
  windowStartMs,
  value
})
const tags = (as: ReadonlyArray<Action>) => as.map((a) => a._tag)

// Window i is evaluated at now = i minutes; returns the final state and all actions in order.
const replay = (cfg: PolicyConfig, sevs: ReadonlyArray<Severity>, from: AlertState = initialAlertState) => {
  let state = from
  const actions: Array<Action> = []
  sevs.forEach((s, i) => {
    const r = step(cfg, state, ev(s, i * MIN, i), i * MIN)
    state = r.state
    actions.push(...r.actions)
  })
  return { state, actions }
}

const severity = fc.constantFrom<Severity>("none", "none", "warning", "critical")
const op = fc.record({
  key: fc.integer({ min: 0, max: 2 }),
  severity,
  gapWindows: fc.integer({ min: 0, max: 3 }),
  ack: fc.boolean()
})
const policyConfig = fc.record({
  cooldownMs: fc.integer({ min: 0, max: 10 * MIN }),
  resolveAfterWindows: fc.integer({ min: 1, max: 5 }),
  renotify: fc.boolean()
})

describe("policy", () => {
  it("opens, folds inside cooldown, escalates, renotifies and resolves", () => {
    const { actions, state } = replay(config, ["none", "warning", "warning", "critical", "critical", "warning", "critical", "warning", "warning", "none", "none", "none"])
    expect(tags(actions)).toEqual(["Open", "Fold", "Escalate", "Fold", "Fold", "Fold", "Fold", "Renotify", "Resolve"])
    expect(actions[2]).toEqual({ _tag: "Escalate", from: "warning", to: "critical" })
    expect(state).toEqual({ status: "ok", lastWindowStartMs: 11 * MIN })
  })

  it("a non-none evaluation resets the normal streak", () => {
    const { actions, state } = replay(config, ["critical", "none", "none", "critical", "none", "none"])
    expect(tags(actions)).toEqual(["Open", "Fold"])
    expect(state).toMatchObject({ status: "open", normalStreak: 2, occurrences: 2, peakValue: 3 })
  })

  it("acknowledged alerts do not renotify but still escalate and resolve", () => {
    const opened = withAlertId(replay(config, ["warning"]).state, "a-1")
    const acked = acknowledge(opened)
    expect(acked).toMatchObject({ status: "acknowledged", alertId: "a-1" })
    let state = acked
    const actions: Array<Action> = []
    ;(["warning", "warning", "warning", "warning", "warning", "warning", "critical", "none", "none", "none"] as const).forEach((s, i) => {
      const r = step(config, state, ev(s, (i + 1) * MIN), (i + 1) * MIN)
      state = r.state
      actions.push(...r.actions)
    })
    expect(tags(actions)).toEqual(["Fold", "Fold", "Fold", "Fold", "Fold", "Fold", "Escalate", "Resolve"])
  })

  it("ignores duplicate or out-of-order windows (redelivery is idempotent)", () => {
    const a = step(config, initialAlertState, ev("critical", 5 * MIN), 0)
    expect(step(config, a.state, ev("critical", 5 * MIN), 1)).toEqual({ state: a.state, actions: [] })
    expect(step(config, a.state, ev("none", 4 * MIN), 1)).toEqual({ state: a.state, actions: [] })
  })

  it("property: per key, Open and Resolve alternate starting with Open; notifications never exceed evaluations", () => {
    fc.assert(
      fc.property(policyConfig, fc.array(op, { maxLength: 120 }), (cfg, ops) => {
        const states = new Map<number, AlertState>()
        const open = new Map<number, boolean>()
        let window = 0
        let notifications = 0
        ops.forEach((o, i) => {
          window += o.gapWindows * MIN
          const prev = states.get(o.key) ?? initialAlertState
          const { state, actions } = step(cfg, o.ack ? acknowledge(prev) : prev, ev(o.severity, window, i), window)
          expect(actions.length).toBeLessThanOrEqual(1)
          for (const a of actions) {
            const wasOpen = open.get(o.key) ?? false
            if (a._tag === "Open") expect(wasOpen).toBe(false)
            else expect(wasOpen).toBe(true)
            if (a._tag === "Open") open.set(o.key, true)
            if (a._tag === "Resolve") open.set(o.key, false)
            if (notifies(a)) notifications++
          }
          expect(state.status !== "ok").toBe(open.get(o.key) ?? false)
          states.set(o.key, state)
        })
        expect(notifications).toBeLessThanOrEqual(ops.length)
      }),
      { numRuns }
    )
  })

  it("property: all-none sequences never produce actions", () => {
    fc.assert(
      fc.property(policyConfig, fc.integer({ min: 0, max: 100 }), (cfg, n) => {
        expect(replay(cfg, Array<Severity>(n).fill("none")).actions).toEqual([])
      }),
      { numRuns }
    )
  })

  it("property: K trailing none evaluations always leave the alert resolved", () => {
    fc.assert(
      fc.property(policyConfig, fc.array(severity, { maxLength: 60 }), (cfg, sevs) => {
        const trailing = Array<Severity>(cfg.resolveAfterWindows).fill("none")
        const { state, actions } = replay(cfg, [...sevs, ...trailing])
        expect(state.status).toBe("ok")
        if (sevs.some((s) => s !== "none")) expect(actions.at(-1)?._tag).toBe("Resolve")
      }),
      { numRuns }
    )
  })

  it("property: replay is deterministic", () => {
    fc.assert(
      fc.property(policyConfig, fc.array(severity, { maxLength: 80 }), (cfg, sevs) => {
        expect(replay(cfg, sevs)).toEqual(replay(cfg, sevs))
      }),
      { numRuns }
    )
  })
})
