/**
 * `hab config apply SVC.GROUP VERSION [FILE] [--user USER] [--wait [--timeout S]]`: gossips a
 * config to every member of a service group, through a Supervisor's control gateway. The TOML is
 * parsed here first, so that a syntax error names its line and column and nothing is sent. With
 * `--user`, it is then sealed into a `BOX-1` payload for the group's service key (`keys.ts`) and
 * travels encrypted: only members holding the group's secret key can read it. A VERSION not
 * above the one the Supervisor holds is refused with the held version (Habitat drops it
 * silently, #3009). With `--wait`, the command follows the group until every live member has
 * applied the version (progress on stderr), and fails naming the members that have not when
 * the timeout passes.
 *
 * `hab config show PKG_IDENT`: the merged config of a loaded service (every layer), as TOML.
 */
import type { Command } from '@commander-js/extra-typings';
import { InvalidArgumentError } from '@commander-js/extra-typings';
import type { ConfigApplyEvent, CtlApi, PendingMember } from '../ctl/client.js';
import { checkPackageIdent, checkPayloadSize, checkServiceGroup, DEFAULT_WAIT_TIMEOUT_SEC, MAX_WAIT_TIMEOUT_SEC, parseConfigToml } from '../ctl/client.js';
import { MurmurError } from '../core/index.js';
import type { CliDeps } from './deps.js';
import { sealForGroup, type Sealed } from './keys.js';
import { connect, parseVersionArgument, readInput, REMOTE_SUP_FLAGS, REMOTE_SUP_HELP } from './remote.js';

/** Width of the progress bar drawn on a terminal, in characters. */
const BAR_WIDTH = 20;

function parseTimeout(raw: string): number {
  const n = /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!(n > 0 && n <= MAX_WAIT_TIMEOUT_SEC)) throw new InvalidArgumentError(`--timeout must be a number of seconds above 0 and at most ${MAX_WAIT_TIMEOUT_SEC}.`);
  return n;
}

export function addConfigCommands(program: Command, deps: CliDeps): void {
  const config = program.command('config').description('service group configuration gossiped to every member');
  config
    .command('apply')
    .description('gossip a TOML config to a service group; VERSION must be above the one the group has')
    .argument('<service_group>', 'SVC.GROUP or SVC.GROUP@ORG, e.g. redis.prod')
    .argument('<version>', 'the config version: a positive integer above the current one')
    .argument('[file]', 'a TOML file; - or nothing reads standard input')
    .option('--wait', 'then wait until every live member of the group has applied it, showing progress on stderr')
    .option('--timeout <seconds>', `with --wait: give up after this many seconds (default ${DEFAULT_WAIT_TIMEOUT_SEC}, at most ${MAX_WAIT_TIMEOUT_SEC})`, parseTimeout)
    .option('-u, --user <user>', "encrypt it for the group (SVC.GROUP@ORG) with this user's secret key and the group's public key; only members holding the group's secret key read it")
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (group, rawVersion, file, opts) => {
      checkServiceGroup(group);
      const version = parseVersionArgument(rawVersion);
      if (opts.timeout !== undefined && !opts.wait) throw new MurmurError('BAD_INPUT', '--timeout goes with --wait: add --wait, or drop --timeout');
      const { bytes, source } = await readInput(deps, file);
      checkPayloadSize(`config from ${source}`, bytes.length);
      const plain = new TextDecoder().decode(bytes);
      parseConfigToml(plain, `config from ${source}`);
      // Checked in the clear first: once sealed, the Supervisor cannot tell TOML from junk.
      const sealed = opts.user === undefined ? undefined : await sealForGroup(deps, group, opts.user, bytes, `config from ${source}`);
      const text = sealed === undefined ? plain : new TextDecoder().decode(sealed.payload);
      const payload = { encrypted: sealed !== undefined };
      const ctl = await connect(deps, opts.remoteSup);
      if (opts.wait) {
        await applyAndWait(deps, ctl, group, version, text, opts.timeout ?? DEFAULT_WAIT_TIMEOUT_SEC, sealed);
        return;
      }
      const done = await ctl.applyConfig(group, version, text, payload);
      deps.stdout(appliedLine(done.version, done.service_group, sealed));
    });
  config
    .command('show')
    .description("print a loaded service's config, every layer merged (default.toml, HAB_<PKG>, user.toml, gossiped), as TOML")
    .argument('<pkg_ident>', 'a package identifier: ORIGIN/NAME[/VERSION[/RELEASE]], e.g. core/redis')
    .option(REMOTE_SUP_FLAGS, REMOTE_SUP_HELP)
    .action(async (ident, opts) => {
      checkPackageIdent(ident, 'hab config show');
      const ctl = await connect(deps, opts.remoteSup);
      const { toml } = await ctl.configShow(ident);
      deps.stdout(toml === '' || toml.endsWith('\n') ? toml : `${toml}\n`);
    });
}

/**
 * Applies, then follows the group: results on stdout (`Applied …`, then the outcome), progress on
 * stderr — one bar redrawn in place on a terminal, else one line per change. A timeout is a
 * CONFLICT (exit 4): the config was published, but the group is not in the state asked for.
 */
async function applyAndWait(deps: CliDeps, ctl: CtlApi, group: string, version: number, text: string, timeoutSec: number, sealed: Sealed | undefined): Promise<void> {
  const progress = new ProgressView(deps);
  for await (const event of ctl.applyConfigWait(group, version, text, timeoutSec, { encrypted: sealed !== undefined })) {
    switch (event.type) {
      case 'applied':
        deps.stdout(appliedLine(event.version, event.service_group, sealed));
        break;
      case 'progress':
        progress.show(event.done, event.total, event.version);
        break;
      case 'done':
        if (event.total > 0) progress.show(event.done, event.total, event.version);
        progress.end();
        deps.stdout(event.total === 0 ? `${capitalize(event.note ?? `no live member runs ${event.service_group} yet`)}\n` : `All ${event.total} live members of ${event.service_group} applied version ${event.version}\n`);
        return;
      case 'timeout':
        progress.end();
        throw new MurmurError('CONFLICT', timeoutMessage(event));
      case 'error':
        // The client throws these; nothing to show.
        break;
    }
  }
}

/** `Applied config version 2 to demo.prod`, saying which keys sealed it when encrypted. */
function appliedLine(version: number, group: string, sealed: Sealed | undefined): string {
  return sealed === undefined
    ? `Applied config version ${version} to ${group}\n`
    : `Applied encrypted config version ${version} to ${group} (sealed by ${sealed.user} for ${sealed.service})\n`;
}

function timeoutMessage(e: Extract<ConfigApplyEvent, { type: 'timeout' }>): string {
  const who = (m: PendingMember) => `${m.member_id} (${m.host})`;
  return `timed out after ${e.timeout} s: ${e.pending.length} of ${e.total} live members of ${e.service_group} have not applied version ${e.version}: ${e.pending.map(who).join(', ')}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The `--wait` progress on stderr: `2/5 members applied version 3`, with a bar on a terminal. */
class ProgressView {
  private drawn = false;
  private last = '';

  constructor(private readonly deps: CliDeps) {}

  show(done: number, total: number, version: number): void {
    const line = `${done}/${total} members applied version ${version}`;
    if (line === this.last) return;
    this.last = line;
    if (this.deps.stderrIsTTY) {
      const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
      // \r back to the start, \x1b[K clears what a longer previous line left.
      this.deps.stderr(`\r[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${line}\x1b[K`);
      this.drawn = true;
    } else {
      this.deps.stderr(`${line}\n`);
    }
  }

  /** Ends the bar's line, so that what follows starts on a line of its own. */
  end(): void {
    if (this.drawn) this.deps.stderr('\n');
    this.drawn = false;
  }
}
