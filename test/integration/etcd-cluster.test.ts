import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startEtcdCluster } from '../support/etcd-cluster.js'
import { within } from '../support/wait.js'

test(
  'etcd cluster: 3 members elect a leader; killing it elects another and writes go on; the old leader rejoins',
  { timeout: 20_000 },
  async (t) => {
    const cluster = await startEtcdCluster()
    t.after(() => cluster.stop())
    assert.equal(cluster.members.length, 3)
    assert.deepEqual(
      cluster.endpoints,
      cluster.members.map((m) => m.endpoint),
    )
    assert.equal(new Set(cluster.endpoints).size, 3)

    await cluster.client.put('before').value('1').exec()
    // The flags vigil needs: a txn of more than etcd's default 128 ops commits.
    await cluster.client
      .if('before', 'Value', '==', '1')
      .then(...Array.from({ length: 200 }, (_, i) => cluster.client.put(`big/${i}`).value('x')))
      .commit()

    const first = await cluster.leader()
    await first.kill()
    assert.equal(first.running, false)
    await assert.rejects(within(first.client.get('before').string(), 2_000, 'a get on a killed member'))

    const second = await cluster.leader()
    assert.notEqual(second.name, first.name)
    assert.equal(second.running, true)
    await within(cluster.client.put('after').value('2').exec(), 5_000, 'a put after the leader died')
    const follower = cluster.members.find((m) => m.running && m !== second)
    assert.ok(follower !== undefined)
    assert.equal(await follower.client.get('after').string(), '2')

    // Back on its data dir, the old leader catches up as a follower.
    await first.restart()
    assert.equal(first.running, true)
    assert.equal(await first.client.get('after').string(), '2')
    assert.equal((await first.client.getAll().prefix('big/').keys()).length, 200)
    assert.equal((await cluster.leader()).name, second.name)
  },
)
