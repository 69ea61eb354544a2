// `murmur sup run` for the lab benchmark (bench/serf-vs-murmur.ts): the real CLI from dist/, plus
// one line on stdout each time this Supervisor's store takes a new service-config rumor, so that
// the benchmark can time a rumor's arrival at every member from the log, as it does for Serf's
// `Received event: user-event` lines. The Supervisor logs no line for it itself, and polling
// /butterfly on 100 members would load the two cores the Supervisors run on.
//
// It only listens (GossipNode.onEvent, public); the Supervisor runs unchanged.
import { Supervisor } from '../dist/sup/index.js';

const open = Supervisor.open;
Supervisor.open = async function hookedOpen(...args) {
  const sup = await open.apply(this, args);
  sup.node.onEvent((e) => {
    if (e.type === 'rumor-changed' && e.rumor.kind === 'service-config') {
      process.stdout.write(`bench-hook: rumor service-config group=${e.rumor.group} version=${e.rumor.version}\n`);
    }
  });
  return sup;
};

const { main } = await import('../dist/app/main.js');
process.exitCode = await main(process.argv);
