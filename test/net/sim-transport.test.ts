/**
 * The transport compliance suite on the simulated network (`SimNetwork` in virtual time): the
 * simulator must promise the gossip shell no more, and no less, than real sockets do.
 */
import { seededRandom } from '../../src/core/random.js';
import { SimNetwork } from '../../src/testkit/sim-network.js';
import { VirtualScheduler } from '../../src/testkit/virtual-time.js';
import { transportCompliance, type Endpoint, type Received, type TestNetwork } from './transport-compliance.js';

/** Virtual time a `settle` may run before giving up: far beyond any delivery here. */
const SETTLE_LIMIT_MS = 60_000;

transportCompliance('simulated network', (n) => {
  const scheduler = new VirtualScheduler();
  const network = new SimNetwork(
    { scheduler, random: seededRandom(7) },
    { link: { delayMs: 1, jitterMs: 2, loss: 0 } },
  );
  const endpoints: Endpoint[] = [];
  for (let i = 1; i <= n; i++) {
    const address = `10.0.0.${i}:9638`;
    const received: Received[] = [];
    network.attach(address, (from, channel, bytes) => received.push({ from, channel, bytes }));
    endpoints.push({
      address,
      received,
      send: (to, channel, bytes) => network.send(address, to, channel, bytes),
    });
  }
  const testNetwork: TestNetwork = {
    endpoints,
    nowhere: '10.0.9.9:9638',
    settle: (done) => {
      scheduler.runWhile(() => !done(), scheduler.now + SETTLE_LIMIT_MS);
      return Promise.resolve();
    },
    close: () => {
      for (const e of endpoints) network.detach(e.address);
      return Promise.resolve();
    },
  };
  return Promise.resolve(testNetwork);
});
