// Sentinel failover (issue 5): a master, a replica and three sentinels
// (`redis-server conf --sentinel`, short down-after / failover timeouts). Two sioc nodes
// find the master through the sentinels; the master is killed; the sentinels promote the
// replica and the nodes follow (+switch-master / re-asking), so cross-node delivery
// resumes. The time it takes is measured and printed, not asserted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startSentinelSetup } from './lib/redis.mjs';
import { call, connect, eventually, startNodes, waitServers } from './lib/cluster.mjs';

for (const form of ['url', 'hosts']) describe(`Redis Sentinel (${form === 'url'
    ? 'redis+sentinel:// URL' : 'WEBSOCKET_SENTINEL_HOSTS form'}): the master dies, the cluster follows the failover`, () => {
    let setup;
    let nodes = [];

    before(async () => {
        setup = await startSentinelSetup({ replicas: 1, sentinels: 3, samePort: form === 'hosts' });
        // the replica must be in sync before the master goes
        await eventually(async () => {
            const c = await setup.replicas[0].client();
            const info = await c.info('replication');
            await c.quit();
            return /master_link_status:up/.test(info);
        }, 'replica in sync');
        if (form === 'url') {
            const url = `redis+sentinel://${setup.sentinels.map((s) => `${s.host}:${s.port}`)
                .join(',')}/0/${setup.service}`;
            nodes = await startNodes(2, url);
        } else {
            // Open WebUI: WEBSOCKET_REDIS_URL names the service as its host
            nodes = await startNodes(2, `redis://${setup.service}:6379/0`, ['--redis-sentinels',
                setup.hosts, '--redis-sentinel-port', String(setup.port)]);
        }
    });

    after(async () => {
        for (const n of nodes) await n.kill();
        if (setup) await setup.stopAll();
    });

    it('cross-node delivery works before and resumes after the failover', async (t) => {
        const a = await connect(t, nodes[0]);
        const b = await connect(t, nodes[1]);
        await waitServers(a.socket, 2, 10000);
        await call(a.socket, 'join', 'r');
        await call(b.socket, 'join', 'r');
        await call(a.socket, 'broadcast', 'r', 'before');
        assert.equal((await b.events.msg.next(5000))[0], 'before');

        const killedAt = Date.now();
        await setup.master.kill();
        let n = 0;
        let resumed = -1;
        await eventually(async () => {
            await call(a.socket, 'broadcast', 'r', `after-${n++}`);
            const got = await b.events.msg.next(300).catch(() => null);
            if (got) resumed = Date.now() - killedAt;
            return got !== null;
        }, 'cross-node delivery after the failover', 30000);
        t.diagnostic(`cross-node delivery resumed ${resumed} ms after the master was killed`);
        // the promoted replica is now the master the nodes talk to
        const c = await setup.replicas[0].client();
        const role = await c.sendCommand(['ROLE']);
        await c.quit();
        assert.equal(role[0], 'master');
        // and the local member kept receiving throughout
        assert.ok(a.events.msg.length >= n, `local deliveries ${a.events.msg.length} of ${n}`);
    });

    it('both nodes exit cleanly', async () => {
        for (const nd of nodes) await nd.stopAndCheck();
        nodes = [];
    });
});
