import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: one file at a time on a 2-core machine. Many files
    // wait on child processes and fsyncs, so two run well side by side (measured: the suite 8 m 37 s -> 5 m 10 s).
    maxWorkers: 2,
  },
})
