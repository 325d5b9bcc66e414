/**
 * Which topics a directory holds, from its partition directories' topic files alone: the rules a read-only open
 * (read-only-topics.ts) decides by, and a one-shot listing built on them for `seglog topics`, which needs names,
 * partition counts and configs and nothing else.
 *
 * The rules (see read-only-topics.ts for why the files are the truth for a reader): a topic exists once one of its
 * `<topic>-<p>` directories holds a sound topic file naming that topic and partition (`-create` and `-delete`
 * directories are not partitions, so a topic mid-creation shows once its directories are renamed into place, and
 * one mid-deletion is gone once all are renamed away); its record is the sound topic file of its lowest-numbered
 * directory (the owner rewrites partition 0's first, and every directory holds the same record once a change is
 * done). Its config is the built-in defaults, then the engine's, then the record's overrides, partition count and
 * format.
 *
 * The listing reads through the read-only file system (read-only-fs.ts) and the engine's topic-file reader and
 * validator (topic-dirs.ts), and loads no partition log, segment, index, LevelDB or zlib: on 1,000 partitions it
 * is what `seglog topics` costs beyond starting node (light-paths.test.ts watches what it loads).
 */
import { DEFAULT_TOPIC_CONFIG, type TopicConfig, validateTopicConfig } from '../config.js'
import { ioError } from '../errors.js'
import { type FileSystem, nodeFileSystem } from '../io/file-system.js'
import type { TopicRecord } from './metadata.js'
import { readOnlyFileSystem } from './read-only-fs.js'
import { NOT_A_DIR, parseDirName, partitionDirName, readTopicFile, type TopicFileRead } from './topic-dirs.js'

/** A topic as its files show it: the record and the partition directory it was read from. */
export interface TopicSource {
  record: TopicRecord
  /** The partition directory (name under the root) whose topic file gave the record. */
  dir: string
}

/**
 * The topics that the entries `names` of a root directory make (see the header), by name, and every partition
 * directory whose topic file was looked at. `topicFile(dirName)` reads one (null: not a directory); it is called
 * for a topic's directories in partition order until one is sound.
 */
export function topicsOf(
  names: readonly string[],
  topicFile: (dirName: string) => TopicFileRead | null,
): { topics: Map<string, TopicSource>; read: Set<string> } {
  const byTopic = new Map<string, number[]>()
  for (const name of names) {
    const parsed = parseDirName(name)
    if (parsed === null || parsed.kind !== 'partition') continue
    let list = byTopic.get(parsed.topic)
    if (list === undefined) byTopic.set(parsed.topic, (list = []))
    list.push(parsed.partition)
  }
  const topics = new Map<string, TopicSource>()
  const read = new Set<string>()
  for (const [topic, partitions] of byTopic) {
    for (const p of partitions.sort((a, b) => a - b)) {
      const dir = partitionDirName(topic, p)
      const r = topicFile(dir)
      if (r === null) continue
      read.add(dir)
      if (r.ok && r.record.name === topic && r.partition === p) {
        topics.set(topic, { record: r.record, dir })
        break
      }
    }
  }
  return { topics, read }
}

/** A topic's config: built-in defaults, then the engine's `defaults`, then the record's. */
export function topicConfigOf(record: TopicRecord, defaults: Partial<TopicConfig>): TopicConfig {
  return {
    ...DEFAULT_TOPIC_CONFIG,
    ...defaults,
    ...record.overrides,
    partitions: record.partitions,
    format: record.format,
  }
}

/** The engine defaults the last owner recorded in `.seglog/owner.json`, when they are there and valid, else {}. */
export function recordedDefaults(fsys: FileSystem, root: string): Partial<TopicConfig> {
  try {
    const raw = fsys.readFile(`${root}/.seglog/owner.json`)
    if (raw === null) return {}
    const defaults = (JSON.parse(raw.toString('utf8')) as { defaults?: unknown } | null)?.defaults
    return validateTopicConfig(defaults ?? {})
  } catch {
    // owner.json is informational: without it (or with a damaged one) the built-in defaults apply.
    return {}
  }
}

export interface ListedTopic {
  name: string
  partitions: number
  config: TopicConfig
}

export interface TopicListingOptions {
  /** The file system to read through (wrapped read-only); node's by default. */
  fs?: FileSystem
  /** Engine-wide topic defaults; those the last owner recorded (`.seglog/owner.json`) when not given. */
  defaults?: Partial<TopicConfig>
}

/**
 * The topics of `dir`, sorted by name, as `Seglog.open(dir, { readOnly: true })` would list and describe them
 * (name, partition count, config), read once and without opening the engine. Writes nothing. IO_ERROR when `dir`
 * cannot be listed or a topic file cannot be read.
 */
export function listTopicFiles(dir: string, options: TopicListingOptions = {}): ListedTopic[] {
  const fsys = readOnlyFileSystem(options.fs ?? nodeFileSystem)
  let names: string[]
  try {
    names = fsys.readdir(dir)
  } catch (err) {
    throw ioError(err, 'open read-only', dir)
  }
  const { topics } = topicsOf(names, (name) => {
    const r = readTopicFile(fsys, `${dir}/${name}`)
    return r === NOT_A_DIR ? null : r
  })
  const given = options.defaults
  const defaults = given !== undefined && Object.keys(given).length > 0 ? given : recordedDefaults(fsys, dir)
  return [...topics.keys()].sort().map((name) => {
    const { record } = topics.get(name) as TopicSource
    return { name, partitions: record.partitions, config: topicConfigOf(record, defaults) }
  })
}
