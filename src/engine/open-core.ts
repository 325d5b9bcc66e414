/**
 * What every `Seglog.open` needs (owner or read-only) before it builds an engine: option checks, the codec
 * registry, the bounded file system, the reads room. `Seglog.open` loads this module on its first call, so that
 * `import('seglog')` itself loads only the facade and the error type: a CLI, an Electron main process or a short
 * script pays for the storage layer, node:zlib and the codecs when it opens a directory, not when it imports.
 * Measured (bench/open-close.ts, fresh process each): cold import 60–67 ms with these imported statically.
 */
export { CodecRegistry } from '../compression.js'
export { engineChannel } from '../diagnostics.js'
export { BoundedFileSystem } from '../io/bounded-fs.js'
export { nodeFileSystem, writeFileAtomic } from '../io/file-system.js'
export { holdProcess } from '../keep-alive.js'
export { checkAcks } from '../records.js'
export { checkListenOptions, checkOpenOptions } from './open-options.js'
export { Reads, wake } from './reads.js'
