/**
 * Records as the CLI prints them and reads them.
 *
 * Printed (`consume --json`), one object per line: `{ topic, partition, offset, timestamp, key, value, headers }`.
 * `key` is the key as a UTF-8 string (null for none), or `keyBase64` when its bytes are not UTF-8. `value` is the
 * value as text: for `string`, `json` and `binary` topics the stored bytes as UTF-8 (a `binary` value that is not
 * UTF-8 comes as `valueBase64`); for `msgpack` topics the decoded value, a string as is, bytes as UTF-8 or
 * `valueBase64`, anything else as JSON. A tombstone is `value: null`. `headers` maps each header to its UTF-8
 * value (null for a null value, an array for a repeated key); headers whose values are not UTF-8 are under
 * `headersBase64` instead.
 *
 * Read (`produce`): a stdin line is one record. Plain: the whole line is the value, or with `--key-separator S`
 * the part before the first S is the key and the rest the value (a line without S has no key). With `--input json`
 * the line is an object of the printed shape (`key`/`keyBase64`, `value`/`valueBase64`, `headers`/`headersBase64`,
 * optionally `partition` and `timestamp`), so `consume --json` output produces the same records again. The value
 * becomes what the topic's format stores: `binary` its bytes, `string` the text, `json` the JSON text parsed
 * (INVALID_RECORD when it is not JSON), `msgpack` the string (or the bytes of `valueBase64`).
 */
import { type Message, SeglogError, type SeglogRecord, type ValueFormatName } from '../../main.js'
import { utf8OrNull } from './output.js'

type HeaderValue = Buffer | null | (Buffer | null)[]

function text(bytes: Buffer): { text: string } | { base64: string } {
  const s = utf8OrNull(bytes)
  return s === null ? { base64: bytes.toString('base64') } : { text: s }
}

/** JSON of a decoded msgpack value: bytes as base64, bigints as decimal strings, Maps as [key, value] pairs. */
function jsonOf(value: unknown): string {
  return JSON.stringify(value, function replacer(this: unknown, key: string, v: unknown) {
    const raw = (this as Record<string, unknown>)[key]
    if (Buffer.isBuffer(raw) || raw instanceof Uint8Array) return Buffer.from(raw).toString('base64')
    if (typeof v === 'bigint') return v.toString()
    if (v instanceof Map) return [...v]
    return v
  })
}

/** The printed `value`/`valueBase64` field of a record of a topic in `format`. */
function valueField(format: ValueFormatName, value: unknown): Record<string, string | null> {
  if (value === null || value === undefined) return { value: null }
  if (Buffer.isBuffer(value)) {
    const t = text(value)
    return 'text' in t ? { value: t.text } : { valueBase64: t.base64 }
  }
  if (typeof value === 'string' && format !== 'json') return { value }
  return { value: format === 'json' ? JSON.stringify(value) : jsonOf(value) }
}

/** The printed form of a record (see the header). */
export function recordJson(format: ValueFormatName, r: SeglogRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
  }
  if (r.key === null) out.key = null
  else {
    const k = text(r.key)
    if ('text' in k) out.key = k.text
    else out.keyBase64 = k.base64
  }
  Object.assign(out, valueField(format, r.value))
  const headers: Record<string, unknown> = {}
  const headersBase64: Record<string, unknown> = {}
  for (const [name, v] of Object.entries(r.headers as Record<string, HeaderValue>)) {
    const values = Array.isArray(v) ? v : [v]
    const texts = values.map((b) => (b === null ? null : text(b)))
    if (texts.every((t) => t === null || 'text' in t)) {
      const shown = texts.map((t) => (t === null ? null : (t as { text: string }).text))
      headers[name] = Array.isArray(v) ? shown : shown[0]
    } else {
      const shown = values.map((b) => (b === null ? null : b.toString('base64')))
      headersBase64[name] = Array.isArray(v) ? shown : shown[0]
    }
  }
  out.headers = headers
  if (Object.keys(headersBase64).length > 0) out.headersBase64 = headersBase64
  return out
}

/** A stdin line that is not a record: INVALID_RECORD naming the line. */
function badLine(lineNo: number, why: string): SeglogError {
  return new SeglogError('INVALID_RECORD', `stdin line ${lineNo}: ${why}`)
}

/** A record read from stdin, before its value is put in the topic's format. */
export interface InputRecord {
  key: Buffer | null
  /** Text, bytes (from base64), or null (a tombstone). */
  value: string | Buffer | null
  headers: { key: string; value: Buffer | null }[]
  partition: number | null
  timestamp: number | null
}

/** A plain stdin line (see the header). */
export function plainRecord(line: string, separator: string | null): InputRecord {
  let key: Buffer | null = null
  let value = line
  if (separator !== null) {
    const at = line.indexOf(separator)
    if (at >= 0) {
      key = Buffer.from(line.slice(0, at))
      value = line.slice(at + separator.length)
    }
  }
  return { key, value, headers: [], partition: null, timestamp: null }
}

function bytesField(o: Record<string, unknown>, name: string, lineNo: number): Buffer | string | null | undefined {
  const b64 = o[`${name}Base64`]
  if (b64 !== undefined) {
    if (typeof b64 !== 'string') throw badLine(lineNo, `${name}Base64 must be a base64 string`)
    return Buffer.from(b64, 'base64')
  }
  const v = o[name]
  if (v === undefined || v === null) return v as null | undefined
  if (typeof v !== 'string') throw badLine(lineNo, `${name} must be a string or null, got ${typeof v}`)
  return v
}

/** A `--input json` stdin line (see the header). */
export function jsonRecord(line: string, lineNo: number): InputRecord {
  let o: unknown
  try {
    o = JSON.parse(line)
  } catch {
    throw badLine(lineNo, 'not JSON (with --input json every line is an object such as {"key":"k","value":"v"})')
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw badLine(lineNo, 'not a JSON object')
  const rec = o as Record<string, unknown>
  const key = bytesField(rec, 'key', lineNo)
  const value = bytesField(rec, 'value', lineNo)
  const headers: { key: string; value: Buffer | null }[] = []
  for (const [field, encoding] of [
    ['headers', 'utf8'],
    ['headersBase64', 'base64'],
  ] as const) {
    const h = rec[field]
    if (h === undefined || h === null) continue
    if (typeof h !== 'object' || Array.isArray(h)) throw badLine(lineNo, `${field} must be an object`)
    for (const [name, v] of Object.entries(h as Record<string, unknown>)) {
      for (const one of Array.isArray(v) ? v : [v]) {
        if (one !== null && typeof one !== 'string') throw badLine(lineNo, `header ${name} must be a string or null`)
        headers.push({ key: name, value: one === null ? null : Buffer.from(one, encoding) })
      }
    }
  }
  const int = (name: string): number | null => {
    const v = rec[name]
    if (v === undefined || v === null) return null
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw badLine(lineNo, `${name} must be an integer >= 0`)
    return v
  }
  return {
    key: key === undefined || key === null ? null : Buffer.isBuffer(key) ? key : Buffer.from(key),
    value: value ?? null,
    headers,
    partition: int('partition'),
    timestamp: int('timestamp'),
  }
}

/** The value a native append takes for a topic in `format` (INVALID_RECORD naming the line when it cannot be). */
export function nativeValue(format: ValueFormatName, value: string | Buffer | null, lineNo: number): unknown {
  if (value === null) return null
  switch (format) {
    case 'binary':
      return Buffer.isBuffer(value) ? value : Buffer.from(value)
    case 'string': {
      if (typeof value === 'string') return value
      const s = utf8OrNull(value)
      if (s === null) throw badLine(lineNo, 'a string topic holds text, and these bytes are not UTF-8')
      return s
    }
    case 'json': {
      const s = typeof value === 'string' ? value : utf8OrNull(value)
      try {
        if (s === null) throw new Error('not UTF-8')
        return JSON.parse(s)
      } catch {
        throw badLine(lineNo, 'a json topic holds JSON, and this value is not JSON text')
      }
    }
    default:
      return value
  }
}

/** A msgpack str or bin of `value`: the same bytes the engine's msgpack encoder writes for a string or bytes. */
function msgpack(value: string | Buffer): Buffer {
  const isString = typeof value === 'string'
  const body = isString ? Buffer.from(value) : value
  const n = body.length
  let head: Buffer
  if (isString && n < 32) head = Buffer.from([0xa0 | n])
  else if (n < 0x100) head = Buffer.from([isString ? 0xd9 : 0xc4, n])
  else if (n < 0x10000) head = Buffer.from([isString ? 0xda : 0xc5, n >> 8, n & 0xff])
  else {
    head = Buffer.alloc(5)
    head[0] = isString ? 0xdb : 0xc6
    head.writeUInt32BE(n, 1)
  }
  return Buffer.concat([head, body])
}

/** The stored bytes of a value for a topic in `format`, as the native path would store it. */
export function storedValue(format: ValueFormatName, value: string | Buffer | null, lineNo: number): Buffer | null {
  const v = nativeValue(format, value, lineNo)
  if (v === null) return null
  switch (format) {
    case 'binary':
      return v as Buffer
    case 'string':
      return Buffer.from(v as string)
    case 'json':
      return Buffer.from(JSON.stringify(v))
    default:
      return msgpack(v as string | Buffer)
  }
}

/** A record from stdin as a native `Message` for a topic in `format`. */
export function nativeMessage(format: ValueFormatName, r: InputRecord, lineNo: number): Message {
  const headers: Record<string, (Buffer | null)[]> = {}
  for (const h of r.headers) (headers[h.key] ??= []).push(h.value)
  const m: Message = { key: r.key, value: nativeValue(format, r.value, lineNo), headers }
  if (r.partition !== null) m.partition = r.partition
  if (r.timestamp !== null) m.timestamp = r.timestamp
  return m
}
