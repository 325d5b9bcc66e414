import { isSeglogError } from '../../src/errors.js'

function seglogCode(err: unknown): string {
  if (!isSeglogError(err)) throw err
  return err.code
}

/**
 * The `code` of the SeglogError that `fn` throws, or rejects with when it returns a promise (then the result is a
 * promise too); `undefined` when `fn` completes. Any other error is rethrown, so a test expecting a code fails
 * on a TypeError or a raw errno error instead of comparing it.
 */
export function codeOf(fn: () => Promise<unknown>): Promise<string | undefined>
export function codeOf(fn: () => unknown): string | undefined
export function codeOf(fn: () => unknown): string | undefined | Promise<string | undefined> {
  let result: unknown
  try {
    result = fn()
  } catch (err) {
    return seglogCode(err)
  }
  if (result instanceof Promise) return result.then(() => undefined, seglogCode)
  return undefined
}

/** The errno `code` (ENOENT, EMFILE, ...) of the error `fn` throws, `'NO_CODE'` when it has none; `undefined` when `fn` completes. */
export function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'NO_CODE'
  }
  return undefined
}
