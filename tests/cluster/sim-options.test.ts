import { describe, expect, it } from 'vitest';
import { parseSimOptions } from '../../harness/sim/options';
import { clusterBusPeers } from '../../harness/world/regional-redis';

describe('npm start -- --redis-cluster', () => {
  it('is off by default and on with the flag', () => {
    expect(parseSimOptions([], {})).toMatchObject({ redisCluster: false });
    expect(parseSimOptions(['--redis-cluster'], {})).toMatchObject({ redisCluster: true });
  });

  it("gives each region's nodes the other regions' clusters as BUS_PEERS", () => {
    const redis = (url: string) => ({ url });
    const regional = new Map([
      ['us-east', redis('redis+cluster://127.0.0.1:7000,127.0.0.1:7001')],
      ['eu-west', redis('redis+cluster://127.0.0.1:7100,127.0.0.1:7101')],
      ['ap-southeast', redis('redis+cluster://127.0.0.1:7200')],
    ]);
    expect(clusterBusPeers('eu-west', regional)).toBe(
      'us-east=redis+cluster://127.0.0.1:7000,127.0.0.1:7001,ap-southeast=redis+cluster://127.0.0.1:7200',
    );
  });
});
