/**
 * The leader tasks of one catalog as a server runs them: elected through a real server session
 * on the catalog's store (a long lease, so tests that advance a fake clock by minutes need no
 * keep-alives), the tasks started with its fence.
 */
import type { Catalog } from '../../src/catalog/catalog.js'
import { LeaderTasks } from '../../src/catalog/leader.js'
import { ServerSession } from '../../src/cluster/election.js'
import type { Clock } from '../../src/lib/clock.js'
import type { Store } from '../../src/store/store.js'

const quiet = { info: () => undefined, warn: () => undefined }

export interface ElectedTasks {
  readonly tasks: LeaderTasks
  readonly session: ServerSession
  stop(): Promise<void>
}

export async function electedLeaderTasks(
  catalog: Catalog,
  store: Store,
  clock: Clock,
  name = 'server-1',
): Promise<ElectedTasks> {
  let tasks: LeaderTasks | undefined
  const session = new ServerSession({
    store,
    catalog,
    clock,
    self: { name, addr: '127.0.0.1', port: 8300, id: '', version: 'test' },
    logger: quiet,
    ttlMs: 3_600_000,
    onLeadership: async (fence) => {
      await tasks?.stop()
      tasks = fence === null ? undefined : new LeaderTasks({ catalog, clock, fence })
      tasks?.start()
    },
  })
  await session.start()
  if (tasks === undefined) throw new Error('the only server was not elected')
  const elected = tasks
  return {
    tasks: elected,
    session,
    stop: async () => {
      await session.close()
      await elected.stop()
    },
  }
}
