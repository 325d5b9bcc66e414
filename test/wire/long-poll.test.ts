/**
 * Hurried long polls: while a client is hurried its polls are capped and the polls waiting are woken; releases
 * count, so one client's release does not end another hold.
 */
import { describe, expect, it } from 'vitest'
import { HURRIED_WAIT_MS, hurryLongPolls, hurrySignal, longPollLimitMs } from '../../src/wire/long-poll.js'

describe('long-poll hurrying', () => {
  it('caps the polls of a hurried client (same host and client id) until every hold is released', () => {
    expect(longPollLimitMs('10.0.0.1', 'app')).toBe(Number.POSITIVE_INFINITY)
    const first = hurryLongPolls('10.0.0.1', 'app')
    const second = hurryLongPolls('10.0.0.1', 'app')
    expect(longPollLimitMs('10.0.0.1', 'app')).toBe(HURRIED_WAIT_MS)
    expect(longPollLimitMs('10.0.0.1', 'other')).toBe(Number.POSITIVE_INFINITY)
    expect(longPollLimitMs('10.0.0.2', 'app')).toBe(Number.POSITIVE_INFINITY)
    first()
    first()
    expect(longPollLimitMs('10.0.0.1', 'app')).toBe(HURRIED_WAIT_MS)
    second()
    expect(longPollLimitMs('10.0.0.1', 'app')).toBe(Number.POSITIVE_INFINITY)
  })

  it('wakes the polls waiting now, and only those', () => {
    const waiting = hurrySignal()
    expect(waiting.aborted).toBe(false)
    const release = hurryLongPolls('10.0.0.1', null)
    expect(waiting.aborted).toBe(true)
    expect(hurrySignal().aborted).toBe(false)
    expect(longPollLimitMs('10.0.0.1', null)).toBe(HURRIED_WAIT_MS)
    release()
  })
})
