/**
 * The engine's metadata store: a LevelDB (`level`) under `<dir>/.seglog/meta`, holding topic records (and,
 * later, committed consumer offsets). It doubles as the ownership lock: LevelDB takes an OS lock on its `LOCK`
 * file, which the kernel releases the moment the owning process dies (SIGKILL included), so no stale lock ever
 * needs manual cleanup.
 *
 * Keys (UTF-8):
 * | key              | value (JSON)                                                      |
 * |------------------|-------------------------------------------------------------------|
 * | `topic:<name>`   | `{ name, partitions, format, overrides, createdAt }`              |
 *
 * Every write is `sync: true`, so a metadata change is the durable commit point of the operation it belongs to
 * (see the crash order in `seglog.ts`).
 *
 * Caveat handled by the caller: LevelDB's lock is a POSIX fcntl lock, which is per process, and LevelDB closes
 * its lock fd when a second open in the same process fails — which releases the first owner's lock. The engine
 * therefore refuses a second in-process open of the same real path *before* it reaches LevelDB.
 */
import { Level } from 'level'
import type { TopicConfig, ValueFormatName } from './config.js'
import { ioError, SeglogError } from './errors.js'

export interface TopicRecord {
  name: string
  partitions: number
  format: ValueFormatName
  /** Config given at creation or by alterTopicConfig (engine defaults fill the rest at open). */
  overrides: Partial<TopicConfig>
  createdAt: number
}

const TOPIC_PREFIX = 'topic:'

export class MetadataStore {
  private constructor(readonly db: Level<string, string>) {}

  /** Opens (creating) the store; ENGINE_LOCKED when another process holds it. */
  static async open(location: string, lockedMessage: () => string): Promise<MetadataStore> {
    // maxOpenFiles: LevelDB's default (1000) would eat the whole fd budget of a process under ulimit -n 1024.
    const db = new Level<string, string>(location, { valueEncoding: 'utf8', maxOpenFiles: 64 })
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED' || (err as { code?: string }).code === 'LEVEL_LOCKED') {
        throw new SeglogError('ENGINE_LOCKED', lockedMessage(), { cause: err, path: location })
      }
      throw ioError(err, 'open metadata store', location)
    }
    return new MetadataStore(db)
  }

  async listTopics(): Promise<TopicRecord[]> {
    const out: TopicRecord[] = []
    try {
      for await (const [, value] of this.db.iterator({ gte: TOPIC_PREFIX, lt: `${TOPIC_PREFIX}\xff` })) {
        out.push(JSON.parse(value) as TopicRecord)
      }
    } catch (err) {
      throw ioError(err, 'read metadata', this.db.location)
    }
    return out
  }

  async putTopic(record: TopicRecord): Promise<void> {
    try {
      await this.db.put(TOPIC_PREFIX + record.name, JSON.stringify(record), { sync: true })
    } catch (err) {
      throw ioError(err, 'write metadata', this.db.location)
    }
  }

  async deleteTopic(name: string): Promise<void> {
    try {
      await this.db.del(TOPIC_PREFIX + name, { sync: true })
    } catch (err) {
      throw ioError(err, 'write metadata', this.db.location)
    }
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}
