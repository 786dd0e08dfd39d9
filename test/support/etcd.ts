/**
 * A single etcd member on loopback with a temp data dir, for tests and benchmarks: started by
 * `startEtcd`, killed and restarted on the same data (`restart`), removed by `stop`. The process
 * supervision (`etcdProcess`) and member flags (`memberFlags`) are shared with the cluster of
 * test/support/etcd-cluster.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Etcd3 } from 'etcd3'
import { freePort } from './agent-process.js'

export interface EtcdMember {
  /** The client URL, e.g. `http://127.0.0.1:23790`. */
  readonly endpoint: string
  /** A plain etcd3 client on the member (closed by `stop`). */
  readonly client: Etcd3
  /** Kills the member (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>
  /** Freezes the member (SIGSTOP): its sockets stay open and nothing answers. */
  pause(): void
  /** Lets a paused member run on (SIGCONT). */
  resume(): void
  /** Starts it again on the same data dir and ports; resolves once it answers. */
  restart(): Promise<void>
  /** Stops the member and removes its data dir. */
  stop(): Promise<void>
}

/** A member's loopback URLs on free ports. */
export interface MemberUrls {
  readonly name: string
  readonly clientUrl: string
  readonly peerUrl: string
}

export async function memberUrls(name: string, scheme: 'http' | 'https' = 'http'): Promise<MemberUrls> {
  return {
    name,
    clientUrl: `${scheme}://127.0.0.1:${await freePort()}`,
    peerUrl: `http://127.0.0.1:${await freePort()}`,
  }
}

/** The flags that run `self` in the cluster `initialCluster` (which includes it) from `dataDir`. */
export function memberFlags(
  self: MemberUrls,
  dataDir: string,
  initialCluster: readonly MemberUrls[],
): string[] {
  return [
    `--name=${self.name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${self.clientUrl}`,
    `--advertise-client-urls=${self.clientUrl}`,
    `--listen-peer-urls=${self.peerUrl}`,
    `--initial-advertise-peer-urls=${self.peerUrl}`,
    `--initial-cluster=${initialCluster.map((m) => `${m.name}=${m.peerUrl}`).join(',')}`,
    '--log-level=error',
  ]
}

/** One etcd process on fixed flags. */
export interface EtcdProcess {
  /** Spawns it and resolves once `client` answers a status call (at most 30 s). */
  readonly launch: () => Promise<void>
  /** SIGKILL, then waits for the exit. */
  readonly kill: () => Promise<void>
  /** SIGTERM (after SIGCONT, should it be paused), then waits for the exit. */
  readonly terminate: () => Promise<void>
  /** SIGSTOP: the process keeps its sockets and answers nothing. */
  readonly pause: () => void
  /** SIGCONT. */
  readonly resume: () => void
  /** Whether a launched process has not been killed or terminated. */
  readonly running: boolean
}

const live = new Set<ChildProcess>()
// A test process that dies without stopping its members must not leave them running.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** Supervises `etcd <argv>`, asking `client` (on that member alone) whether it is up. */
export function etcdProcess(argv: readonly string[], client: Etcd3): EtcdProcess {
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let stderr = ''
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    child?.kill(signal)
    await exited
    child = undefined
  }
  return {
    get running() {
      return child !== undefined
    },
    launch: async () => {
      let spawnError: Error | undefined
      const proc = spawn('etcd', argv, { stdio: ['ignore', 'ignore', 'pipe'] })
      child = proc
      live.add(proc)
      proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
      exited = new Promise<void>((resolve) => {
        proc.once('exit', () => {
          live.delete(proc)
          resolve()
        })
        proc.once('error', (err) => {
          spawnError = err
          resolve()
        })
      })
      const deadline = Date.now() + 30_000
      for (;;) {
        try {
          await client.maintenance.status()
          return
        } catch (err) {
          if (spawnError !== undefined || Date.now() > deadline || proc.exitCode !== null) {
            await stopWith('SIGKILL')
            throw new Error(`etcd did not start: ${spawnError?.message ?? stderr}`, { cause: err })
          }
          await new Promise((r) => setTimeout(r, 100))
        }
      }
    },
    kill: () => stopWith('SIGKILL'),
    terminate: async () => {
      child?.kill('SIGCONT')
      await stopWith('SIGTERM')
    },
    pause: () => {
      child?.kill('SIGSTOP')
    },
    resume: () => {
      child?.kill('SIGCONT')
    },
  }
}

/**
 * Starts a member; `args` are extra etcd flags (e.g. `--max-txn-ops=1024`). With `tls` the client
 * URL is `https://` and served with that certificate (which must also be its own CA).
 */
export async function startEtcd(
  args: readonly string[] = [],
  tls?: { readonly certFile: string; readonly keyFile: string },
): Promise<EtcdMember> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-etcd-'))
  const urls = await memberUrls('test', tls === undefined ? 'http' : 'https')
  const argv = [
    ...memberFlags(urls, dir, [urls]),
    ...(tls === undefined ? [] : [`--cert-file=${tls.certFile}`, `--key-file=${tls.keyFile}`]),
    ...args,
  ]
  const client = new Etcd3({
    hosts: urls.clientUrl,
    ...(tls === undefined ? {} : { credentials: { rootCertificate: readFileSync(tls.certFile) } }),
  })
  const proc = etcdProcess(argv, client)
  try {
    await proc.launch()
  } catch (err) {
    client.close()
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return {
    endpoint: urls.clientUrl,
    client,
    kill: proc.kill,
    pause: proc.pause,
    resume: proc.resume,
    restart: proc.launch,
    stop: async () => {
      client.close()
      await proc.terminate()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
