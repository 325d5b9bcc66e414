/**
 * Argument checks shared by the client options and `stream` options: each throws a `TypeError` that names the
 * option and shows the rejected value (a programmer mistake, not a data error).
 */

/** A value as an error message shows it: strings quoted, so `'10'` is not mistaken for the number 10. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'bigint') return `${value}n`
  if (value === null || typeof value !== 'object') return String(value)
  if (Array.isArray(value)) return 'an array'
  return 'an object'
}

/** `value`, which must be a safe integer ≥ `min`. */
export function checkInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer ≥ ${min}`
    throw new TypeError(`${name} must be ${what}, got ${describeValue(value)}`)
  }
  return value
}

/** `value`, which must be a finite number ≥ 0. */
export function checkNonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a finite number ≥ 0, got ${describeValue(value)}`)
  }
  return value
}

/** `value`, which must be a boolean. */
export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describeValue(value)}`)
  return value
}
