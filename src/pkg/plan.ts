/**
 * plan: what a Habitat plan (`plan.sh`) declares, read the only faithful way, by sourcing it with
 * bash, and checked before anything is built.
 *
 * The plan is `<dir>/plan.sh` or `<dir>/habitat/plan.sh` (both at once is refused, as
 * `hab-plan-build` refuses it); the directory holding it is the plan context (`PLAN_CONTEXT`),
 * where `default.toml`, `config/` and `hooks/` are found. As in `hab-plan-build`, bash runs in the
 * plan context with `set -e`, `pkg_exports`, `pkg_binds` and `pkg_binds_optional` are declared
 * associative arrays before the plan is sourced (so `pkg_exports=([port]=port)` works without
 * `declare -A`), and `HAB_ORIGIN`, when set, overrides `pkg_origin`.
 *
 * Paths that only exist once the package is installed and running (`$pkg_prefix`,
 * `$pkg_svc_path`, `$pkg_svc_config_path`, `$pkg_svc_data_path`, …) hold their own names while the
 * plan is read, so `pkg_svc_run="redis-server $pkg_svc_config_path/redis.conf"` keeps the text
 * `$pkg_svc_config_path` and the package's `run` file expands it when the service starts (see
 * build.ts). Habitat bakes `/hab/svc/<name>/…` in at build time instead, which would be wrong
 * under any `FS_ROOT` but `/`.
 *
 * The variables come back from bash NUL-separated (no bash value can hold a NUL), on a file
 * descriptor of their own so that a plan that echoes cannot garble them:
 *
 *     S NAME VALUE                      a scalar
 *     I NAME COUNT (INDEX VALUE)×COUNT  an indexed array
 *     A NAME COUNT (KEY VALUE)×COUNT    an associative array
 *     U NAME                            unset
 *     F FUNCTION                        a build callback the plan defines
 *     X                                 bash -n found a syntax error (on stderr)
 *     END                               the plan was read to the end
 */
import { constants } from 'node:os';
import path from 'node:path';
import { MurmurError } from '../core/index.js';
import type { Env } from '../crypto/index.js';
import { planEnv, runBash } from './bash.js';
import { isDirectory, isFile } from './files.js';
import { ORIGIN_NAME, PACKAGE_NAME, PACKAGE_VERSION, parseIdent, type PackageIdent } from './ident.js';

export interface Plan {
  /** The directory holding plan.sh: Habitat's `PLAN_CONTEXT`. */
  context: string;
  /** plan.sh itself. */
  file: string;
  /** `pkg_origin`, or `HAB_ORIGIN` when set. */
  origin: string;
  name: string;
  version: string;
  description: string | null;
  maintainer: string | null;
  /** `pkg_license` (an array in Habitat; a plain string is taken as one license). */
  license: string[];
  /** `pkg_svc_run`: a shell command line, or null. */
  svcRun: string | null;
  /** `pkg_exports`: export key → dotted path into the service's config. */
  exports: Record<string, string>;
  /** `pkg_exposes`: export keys whose default values are the ports the service listens on. */
  exposes: string[];
  /** `pkg_binds`: bind name → export keys the bound service must publish. */
  binds: Record<string, string[]>;
  /** `pkg_binds_optional`: as `binds`, for binds the service can run without. */
  bindsOptional: Record<string, string[]>;
  /** @default 'hab' */
  svcUser: string;
  /** @default 'hab' */
  svcGroup: string;
  deps: PackageIdent[];
  buildDeps: PackageIdent[];
  /** A signal name without `SIG`. @default 'TERM' */
  shutdownSignal: string;
  /** @default 8 */
  shutdownTimeoutSec: number;
  /** The build callbacks the plan defines; murmur runs only these (no default configure/make). */
  callbacks: { doBuild: boolean; doInstall: boolean };
}

export const DEFAULT_SVC_USER = 'hab';
export const DEFAULT_SVC_GROUP = 'hab';
export const DEFAULT_SHUTDOWN_SIGNAL = 'TERM';
export const DEFAULT_SHUTDOWN_TIMEOUT_SEC = 8;

/** How long sourcing a plan may take: plans may run commands at the top level. */
const READ_TIMEOUT_MS = 60_000;

/** Export keys and bind names: they end up in template paths such as `bind.db.first.cfg.port`. */
const KEY = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
/** A dotted path into a config table: `port`, `server.port`. */
const DOTTED_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const USER_OR_GROUP = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;

/** The variables read back from the plan. */
const VARIABLES = [
  'pkg_origin',
  'pkg_name',
  'pkg_version',
  'pkg_description',
  'pkg_maintainer',
  'pkg_license',
  'pkg_svc_run',
  'pkg_exports',
  'pkg_exposes',
  'pkg_binds',
  'pkg_binds_optional',
  'pkg_svc_user',
  'pkg_svc_group',
  'pkg_deps',
  'pkg_build_deps',
  'pkg_shutdown_signal',
  'pkg_shutdown_timeout_sec',
] as const;

/** Paths the Supervisor decides at run time; see the module comment. */
export const RUNTIME_PATH_VARIABLES = [
  'pkg_prefix',
  'pkg_svc_path',
  'pkg_svc_data_path',
  'pkg_svc_files_path',
  'pkg_svc_var_path',
  'pkg_svc_config_path',
  'pkg_svc_config_install_path',
  'pkg_svc_static_path',
] as const;

/** Declarations made before a plan is sourced, as in `hab-plan-build`. */
export const PLAN_PRELUDE = 'declare -A pkg_exports=() pkg_binds=() pkg_binds_optional=()';

const READ_SCRIPT = `
__murmur_plan=$1
exec 3>&1 1>&2
if ! "$BASH" -n "$__murmur_plan"; then printf 'X\\0' >&3; exit 1; fi
${RUNTIME_PATH_VARIABLES.map((name) => `${name}='$${name}'`).join('\n')}
${PLAN_PRELUDE}
set -e
. "$__murmur_plan"
set +e
__murmur_emit() {
  local __murmur_decl __murmur_flags __murmur_key
  if ! __murmur_decl=$(declare -p "$1" 2>/dev/null); then printf 'U\\0%s\\0' "$1" >&3; return 0; fi
  __murmur_flags=\${__murmur_decl#declare -}
  __murmur_flags=\${__murmur_flags%% *}
  case $__murmur_flags in
    *[Aa]*)
      local -n __murmur_ref=$1
      if [[ $__murmur_flags == *A* ]]; then printf 'A\\0' >&3; else printf 'I\\0' >&3; fi
      printf '%s\\0%s\\0' "$1" "\${#__murmur_ref[@]}" >&3
      for __murmur_key in "\${!__murmur_ref[@]}"; do
        printf '%s\\0%s\\0' "$__murmur_key" "\${__murmur_ref[$__murmur_key]}" >&3
      done ;;
    *) printf 'S\\0%s\\0%s\\0' "$1" "\${!1}" >&3 ;;
  esac
}
for __murmur_name in ${VARIABLES.join(' ')}; do __murmur_emit "$__murmur_name"; done
for __murmur_name in do_build do_install; do
  if declare -F "$__murmur_name" >/dev/null; then printf 'F\\0%s\\0' "$__murmur_name" >&3; fi
done
printf 'END\\0' >&3
`;

/** Finds plan.sh in `dir` or `dir/habitat`: its plan context and path. */
export async function findPlan(dir: string): Promise<{ context: string; file: string }> {
  const root = path.resolve(dir);
  if (!(await isDirectory(root))) {
    throw new MurmurError('NOT_FOUND', `plan directory ${root} does not exist or is not a directory`);
  }
  const atRoot = path.join(root, 'plan.sh');
  const inHabitat = path.join(root, 'habitat', 'plan.sh');
  const [rootHas, habitatHas] = await Promise.all([isFile(atRoot), isFile(inHabitat)]);
  if (rootHas && habitatHas) {
    throw new MurmurError('BAD_INPUT', `found both ${atRoot} and ${inHabitat}: only one plan is allowed; remove one of them`);
  }
  if (rootHas) return { context: root, file: atRoot };
  if (habitatHas) return { context: path.dirname(inHabitat), file: inHabitat };
  throw new MurmurError('NOT_FOUND', `no plan in ${root}: expected ${atRoot} or ${inHabitat}`);
}

/**
 * Reads and checks the plan in `dir`. `env` is the caller's environment: `HAB_ORIGIN`, `PATH`,
 * `HOME` and the locale reach the plan, nothing else.
 */
export async function readPlan(dir: string, env: Env): Promise<Plan> {
  const { context, file } = await findPlan(dir);
  const result = await runBash(READ_SCRIPT, [file], {
    name: 'plan.sh',
    cwd: context,
    env: planEnv(env, { PLAN_CONTEXT: context }),
    timeoutMs: READ_TIMEOUT_MS,
  });
  const records = parseRecords(result.stdout);
  const stderr = result.stderr.trim();
  if (records.syntaxError) {
    throw new MurmurError('BAD_INPUT', `${file} has a bash syntax error: ${stderr || 'bash -n failed'}`);
  }
  if (result.timedOut) {
    throw new MurmurError('BAD_INPUT', `${file} took longer than ${READ_TIMEOUT_MS / 1000} s to source; a plan should only set variables and define functions at its top level`);
  }
  if (!records.complete) {
    const how = result.code === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with code ${result.code}`;
    throw new MurmurError('BAD_INPUT', `${file} failed while it was sourced (bash ${how})${stderr === '' ? '' : `: ${stderr}`}`);
  }
  return toPlan(context, file, records, env);
}

// ---------------------------------------------------------------------------------------------
// Bash's answer
// ---------------------------------------------------------------------------------------------

type Value =
  | { kind: 'scalar'; value: string }
  | { kind: 'indexed'; values: string[] }
  | { kind: 'assoc'; entries: Array<[string, string]> };

interface Records {
  values: Map<string, Value>;
  functions: Set<string>;
  syntaxError: boolean;
  complete: boolean;
}

function parseRecords(bytes: Buffer): Records {
  const tokens = bytes.toString('utf8').split('\0');
  const out: Records = { values: new Map(), functions: new Set(), syntaxError: false, complete: false };
  let at = 0;
  const next = (): string | undefined => (at < tokens.length - 1 ? tokens[at++] : undefined);
  const pairs = (): Array<[string, string]> | undefined => {
    const count = Number(next());
    if (!Number.isSafeInteger(count) || count < 0) return undefined;
    const entries: Array<[string, string]> = [];
    for (let i = 0; i < count; i++) {
      const key = next();
      const value = next();
      if (key === undefined || value === undefined) return undefined;
      entries.push([key, value]);
    }
    return entries;
  };
  for (let tag = next(); tag !== undefined; tag = next()) {
    if (tag === 'END') {
      out.complete = true;
      break;
    }
    if (tag === 'X') out.syntaxError = true;
    else if (tag === 'F') {
      const name = next();
      if (name !== undefined) out.functions.add(name);
    } else if (tag === 'U') next();
    else if (tag === 'S') {
      const name = next();
      const value = next();
      if (name === undefined || value === undefined) break;
      out.values.set(name, { kind: 'scalar', value });
    } else if (tag === 'I' || tag === 'A') {
      const name = next();
      const entries = pairs();
      if (name === undefined || entries === undefined) break;
      out.values.set(
        name,
        tag === 'A' ? { kind: 'assoc', entries } : { kind: 'indexed', values: entries.map(([, value]) => value) },
      );
    } else break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

function toPlan(context: string, file: string, records: Records, env: Env): Plan {
  const bad = (message: string): MurmurError => new MurmurError('BAD_INPUT', `${file}: ${message}`);
  const values = records.values;

  const scalar = (name: string): string | undefined => {
    const value = values.get(name);
    if (value === undefined) return undefined;
    if (value.kind === 'scalar') return value.value;
    if (value.kind === 'indexed') return value.values[0];
    throw bad(`${name} is an associative array; it must be a plain string`);
  };
  const text = (name: string): string | null => {
    const value = scalar(name);
    return value === undefined || value === '' ? null : value;
  };
  const list = (name: string): string[] => {
    const value = values.get(name);
    if (value === undefined) return [];
    if (value.kind === 'scalar') return value.value === '' ? [] : [value.value];
    if (value.kind === 'indexed') return value.values;
    throw bad(`${name} is an associative array; it must be an array, e.g. ${name}=(a b)`);
  };
  const assoc = (name: string, example: string): Array<[string, string]> => {
    const value = values.get(name);
    if (value === undefined) return [];
    if (value.kind === 'assoc') return [...value.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (value.kind === 'indexed' && value.values.length === 0) return [];
    if (value.kind === 'scalar' && value.value === '') return [];
    throw bad(`${name} must be an associative array, e.g. ${name}=(${example})`);
  };

  const habOrigin = env['HAB_ORIGIN'];
  const origin = habOrigin !== undefined && habOrigin !== '' ? habOrigin : text('pkg_origin');
  if (origin === null) throw bad('pkg_origin is not set: set pkg_origin in the plan, or the HAB_ORIGIN environment variable');
  if (!ORIGIN_NAME.test(origin)) {
    const where = habOrigin !== undefined && habOrigin !== '' ? 'HAB_ORIGIN' : 'pkg_origin';
    throw bad(`${where} "${origin}" is not a valid origin: use lowercase letters, digits, "-" and "_", starting with a letter or digit`);
  }
  const name = text('pkg_name');
  if (name === null) throw bad('pkg_name is not set');
  if (!PACKAGE_NAME.test(name)) throw bad(`pkg_name "${name}" is not valid: use letters, digits, "-" and "_"`);
  const version = text('pkg_version');
  if (version === null) throw bad('pkg_version is not set (murmur does not support a pkg_version() function)');
  if (!PACKAGE_VERSION.test(version)) {
    throw bad(`pkg_version "${version}" is not valid: use letters, digits, ".", "_", "+", "~" and "-", not starting with "." or "-"`);
  }

  const exports: Record<string, string> = {};
  for (const [key, cfgPath] of assoc('pkg_exports', '[port]=server.port')) {
    if (!KEY.test(key)) throw bad(`pkg_exports key "${key}" is not valid: use letters, digits, "_" and "-"`);
    if (!DOTTED_PATH.test(cfgPath)) {
      throw bad(`pkg_exports[${key}]="${cfgPath}" is not a dotted path into the config, e.g. "port" or "server.port"`);
    }
    exports[key] = cfgPath;
  }
  const exposes = list('pkg_exposes');
  for (const key of exposes) {
    if (!Object.hasOwn(exports, key)) {
      const known = Object.keys(exports);
      throw bad(`pkg_exposes names "${key}", which is not a key of pkg_exports (${known.length === 0 ? 'pkg_exports is empty' : known.join(', ')})`);
    }
  }
  const binds = (variable: string): Record<string, string[]> => {
    const out: Record<string, string[]> = {};
    for (const [bind, keys] of assoc(variable, '[database]="port host"')) {
      if (!KEY.test(bind)) throw bad(`${variable} bind name "${bind}" is not valid: use letters, digits, "_" and "-"`);
      const wanted = keys.split(/\s+/).filter((key) => key !== '');
      if (wanted.length === 0) throw bad(`${variable}[${bind}] names no export keys; list the keys the bound service must export, e.g. "port host"`);
      for (const key of wanted) {
        if (!KEY.test(key)) throw bad(`${variable}[${bind}] names "${key}", which is not a valid export key`);
      }
      out[bind] = wanted;
    }
    return out;
  };

  const svcUser = text('pkg_svc_user') ?? DEFAULT_SVC_USER;
  if (!USER_OR_GROUP.test(svcUser)) throw bad(`pkg_svc_user "${svcUser}" is not a valid user name`);
  const svcGroup = text('pkg_svc_group') ?? DEFAULT_SVC_GROUP;
  if (!USER_OR_GROUP.test(svcGroup)) throw bad(`pkg_svc_group "${svcGroup}" is not a valid group name`);

  const idents = (variable: string): PackageIdent[] =>
    list(variable).map((entry) => parseIdent(entry, `${file}: ${variable} entry`));

  const rawSignal = text('pkg_shutdown_signal') ?? DEFAULT_SHUTDOWN_SIGNAL;
  const shutdownSignal = rawSignal.toUpperCase().replace(/^SIG/, '');
  if (!Object.hasOwn(constants.signals, `SIG${shutdownSignal}`)) {
    throw bad(`pkg_shutdown_signal "${rawSignal}" is not a signal name, e.g. TERM, INT, QUIT or HUP`);
  }
  const rawTimeout = text('pkg_shutdown_timeout_sec');
  let shutdownTimeoutSec = DEFAULT_SHUTDOWN_TIMEOUT_SEC;
  if (rawTimeout !== null) {
    if (!/^\d{1,9}$/.test(rawTimeout)) throw bad(`pkg_shutdown_timeout_sec "${rawTimeout}" is not a whole number of seconds`);
    shutdownTimeoutSec = Number(rawTimeout);
  }

  return {
    context,
    file,
    origin,
    name,
    version,
    description: text('pkg_description'),
    maintainer: text('pkg_maintainer'),
    license: list('pkg_license'),
    svcRun: text('pkg_svc_run'),
    exports,
    exposes,
    binds: binds('pkg_binds'),
    bindsOptional: binds('pkg_binds_optional'),
    svcUser,
    svcGroup,
    deps: idents('pkg_deps'),
    buildDeps: idents('pkg_build_deps'),
    shutdownSignal,
    shutdownTimeoutSec,
    callbacks: { doBuild: records.functions.has('do_build'), doInstall: records.functions.has('do_install') },
  };
}
