/**
 * The `murmur` ESLint plugin: ARCHITECTURE.md §3 (layers, imports point downward) as lint, so that
 * the boundaries hold by machine rather than by memory.
 *
 * - Rule `murmur/layer-imports`: a file under `src/<layer>/` may import, by relative path, only
 *   from its own folder and from the layers in `LAYERS[<layer>]`.
 * - `configs.layers`: flat-config objects that wire that rule together with ESLint's core
 *   `no-restricted-*` rules: only `net/` opens sockets, only `sup/` (and `pkg/`, for plans)
 *   spawns processes, only `cli/` and `app/` print, and the gossip core takes time and
 *   randomness as inputs.
 *
 * Plain JavaScript (ESM) so that `eslint.config.js` loads it without a build step.
 */
import path from 'node:path';

/**
 * Which layers each layer may import (its own folder is always allowed). `'*'` means any.
 * Keep in step with ARCHITECTURE.md §3.
 * @type {Readonly<Record<string, readonly string[]>>}
 */
export const LAYERS = Object.freeze({
  core: [],
  wire: ['core'],
  crypto: ['core'],
  gossip: ['core', 'wire', 'crypto'],
  // net carries sealed frames, so it may use wire's envelope as well as core.
  net: ['core', 'wire'],
  // election: the engine and the view of an election rumor, over the gossip store.
  election: ['gossip', 'core', 'wire'],
  census: ['election', 'gossip', 'core', 'wire'],
  pkg: ['core', 'crypto'],
  sup: ['census', 'election', 'pkg', 'gossip', 'core', 'wire', 'crypto'],
  ctl: ['sup', 'core'],
  http: ['sup', 'census', 'core'],
  cli: ['ctl', 'pkg', 'crypto', 'core'],
  app: ['*'],
  testkit: ['core', 'wire', 'gossip', 'election'],
});

/**
 * Layers that may `import type` from any layer. The CLI renders values it receives through its
 * injected dependencies (e.g. the simulator's report), so it needs their types but never their code.
 */
export const TYPE_ONLY_FROM_ANY = Object.freeze(['cli']);

/** `src/`, found from this file's place in the repository (`eslint-rules/` sits beside `src/`). */
const DEFAULT_SRC_DIR = path.resolve(import.meta.dirname, '..', 'src');

/**
 * Where a path sits in the layer tree: `{ layer }` for `src/<layer>/…`, `'root'` for a file
 * directly in `src/`, `'outside'` for anything else.
 * @param {string} srcDir
 * @param {string} file absolute path
 * @returns {{ layer: string } | 'root' | 'outside'}
 */
function locate(srcDir, file) {
  const rel = path.relative(srcDir, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return 'outside';
  const parts = rel.split(path.sep);
  if (parts.length === 1) return 'root';
  return { layer: /** @type {string} */ (parts[0]) };
}

/** @param {readonly string[]} list */
function describeAllowed(list) {
  return list.length === 0 ? 'nothing outside itself' : list.join(', ');
}

/** @type {import('eslint').Rule.RuleModule} */
const layerImports = {
  meta: {
    type: 'problem',
    docs: {
      description: 'Imports between src/ layers point downward only (ARCHITECTURE.md §3).',
    },
    schema: [
      {
        type: 'object',
        properties: { srcDir: { type: 'string' } },
        additionalProperties: false,
      },
    ],
    messages: {
      forbidden:
        'src/{{from}} may not import src/{{to}} ("{{source}}"): by ARCHITECTURE.md §3 {{from}} may use {{allowed}}. ' +
        'Move the shared code down into a layer both may use, or have app/ pass it in through deps.',
      unknownLayer:
        'src/{{layer}}/ is not a layer of ARCHITECTURE.md §3: add it to the table there and to LAYERS in eslint-rules/layers.js, or move this code into an existing layer.',
      rootImport:
        '"{{source}}" imports a file directly in src/ (the package face); import from the layer folder that owns the code instead.',
      outsideSrc:
        '"{{source}}" leaves src/: code in src/ is built on its own (tsconfig.build.json), so it may import only other files in src/ and packages.',
    },
  },
  create(context) {
    const options = /** @type {{ srcDir?: string } | undefined} */ (context.options[0]);
    const srcDir = path.resolve(context.cwd, options?.srcDir ?? DEFAULT_SRC_DIR);
    const file = path.resolve(context.cwd, context.physicalFilename);
    const here = locate(srcDir, file);
    // Files outside src/ (tests, benches, tooling) and the files directly in src/ are not layered.
    if (typeof here === 'string') return {};
    const from = here.layer;
    const allowed = LAYERS[from];
    if (allowed === undefined) {
      return {
        Program(node) {
          context.report({ node, messageId: 'unknownLayer', data: { layer: from } });
        },
      };
    }

    /**
     * @param {import('estree').Node} node
     * @param {unknown} source
     * @param {boolean} typeOnly
     */
    function check(node, source, typeOnly) {
      if (typeof source !== 'string') return;
      // Only relative specifiers name files of this package; bare ones are packages or node: builtins.
      if (!source.startsWith('./') && !source.startsWith('../')) return;
      const there = locate(srcDir, path.resolve(path.dirname(file), source));
      if (there === 'outside') {
        context.report({ node, messageId: 'outsideSrc', data: { source } });
        return;
      }
      if (there === 'root') {
        context.report({ node, messageId: 'rootImport', data: { source } });
        return;
      }
      const to = there.layer;
      if (to === from || allowed.includes('*') || allowed.includes(to)) return;
      if (typeOnly && TYPE_ONLY_FROM_ANY.includes(from)) return;
      if (LAYERS[to] === undefined) {
        context.report({ node, messageId: 'unknownLayer', data: { layer: to } });
        return;
      }
      context.report({
        node,
        messageId: 'forbidden',
        data: { from, to, source, allowed: describeAllowed(allowed) },
      });
    }

    // `importKind`/`exportKind` come from the TypeScript parser. Only a declaration-level
    // `import type` is erased: under verbatimModuleSyntax `import { type X }` still loads the module.
    return {
      ImportDeclaration(node) {
        check(node.source, node.source.value, /** @type {any} */ (node).importKind === 'type');
      },
      ExportNamedDeclaration(node) {
        if (node.source) {
          check(node.source, node.source.value, /** @type {any} */ (node).exportKind === 'type');
        }
      },
      ExportAllDeclaration(node) {
        check(node.source, node.source.value, /** @type {any} */ (node).exportKind === 'type');
      },
      ImportExpression(node) {
        if (node.source.type === 'Literal') check(node.source, node.source.value, false);
      },
      /** `import('../x.js').T` in a type position. */
      TSImportType(/** @type {any} */ node) {
        const arg = node.argument?.type === 'TSLiteralType' ? node.argument.literal : node.source;
        if (arg?.type === 'Literal') check(arg, arg.value, true);
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Capabilities: which layer may reach which part of the platform.

/** @param {string[]} names @param {string} message */
const restrict = (names, message) => names.map((name) => ({ name, message }));

const SOCKETS = restrict(
  ['node:dgram', 'dgram', 'node:net', 'net'],
  'Only src/net/ opens sockets (ARCHITECTURE.md §3): take a transport through deps instead.',
);
const CHILD_PROCESS = restrict(
  ['node:child_process', 'child_process'],
  'Only src/sup/ spawns processes (and src/pkg/, which runs plans with bash; ARCHITECTURE.md §3): take a process runner through deps instead.',
);
/** Layers that may spawn processes: sup/ runs services and hooks; pkg/ sources plans with bash (a plan is a bash script). */
const SPAWNERS = ['sup', 'pkg'];
/** The gossip core is pure: it takes packets and timer firings with `now` and returns effects. */
const GOSSIP_ONLY = [
  ...restrict(
    ['node:fs', 'fs', 'node:fs/promises', 'fs/promises'],
    'gossip must not touch files: return the state to persist as an effect, and let the shell (or sup/) write it.',
  ),
  ...restrict(
    ['node:timers', 'timers', 'node:timers/promises', 'timers/promises'],
    'gossip must not set timers: return a `schedule` effect (a timer is data) and handle its firing in `handleTimer(timer, now)`.',
  ),
  ...restrict(
    ['node:perf_hooks', 'perf_hooks'],
    'gossip must take time from `now`: the shell passes the clock reading into every call.',
  ),
];

const TIMER_MESSAGE =
  'gossip must not set timers: return a `schedule` effect (a timer is data) and handle its firing in `handleTimer(timer, now)`.';
const NOW_MESSAGE =
  'gossip must take time from `now`: the shell passes the clock reading into every call (core Clock), so the simulator can run virtual time.';
const RANDOM_MESSAGE =
  'gossip must take randomness from its `Random` dependency (core/random.ts), so that a seed replays a run exactly.';

/**
 * `no-restricted-imports` for one layer. Options of the same rule in a later config object replace
 * earlier ones rather than merge, so every layer gets its whole list from here.
 * @param {string | undefined} layer `undefined` for files of src/ outside the listed layers
 */
function restrictedImportsFor(layer) {
  const paths = [];
  if (layer !== 'net') paths.push(...SOCKETS);
  if (layer === undefined || !SPAWNERS.includes(layer)) paths.push(...CHILD_PROCESS);
  if (layer === 'gossip') paths.push(...GOSSIP_ONLY);
  return ['error', { paths }];
}

/** Layers whose rules differ from the rest of src/ (each gets its own config object). */
const SPECIAL = ['net', 'sup', 'pkg', 'gossip'];

const plugin = {
  meta: { name: 'murmur', version: '0.1.0' },
  rules: { 'layer-imports': layerImports },
  configs: { layers: /** @type {import('eslint').Linter.Config[]} */ ([]) },
};

plugin.configs.layers = [
  {
    name: 'murmur/layers',
    files: ['src/**/*.{ts,mts,cts,js,mjs}'],
    plugins: { murmur: plugin },
    rules: {
      'murmur/layer-imports': 'error',
      'no-restricted-imports': restrictedImportsFor(undefined),
      'no-console': 'error',
    },
  },
  ...SPECIAL.map((layer) => ({
    name: `murmur/layers/${layer}`,
    files: [`src/${layer}/**`],
    rules: { 'no-restricted-imports': restrictedImportsFor(layer) },
  })),
  {
    name: 'murmur/layers/printers',
    // cli/ is the only stdout writer; app/ is the composition root and may report start-up failures.
    files: ['src/cli/**', 'src/app/**'],
    rules: { 'no-console': 'off' },
  },
  {
    name: 'murmur/layers/gossip-purity',
    files: ['src/gossip/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate'].map(
          (name) => ({ name, message: TIMER_MESSAGE }),
        ),
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: NOW_MESSAGE },
        { object: 'performance', property: 'now', message: NOW_MESSAGE },
        { object: 'process', property: 'hrtime', message: NOW_MESSAGE },
        { object: 'Math', property: 'random', message: RANDOM_MESSAGE },
        { object: 'crypto', property: 'getRandomValues', message: RANDOM_MESSAGE },
        { object: 'crypto', property: 'randomUUID', message: RANDOM_MESSAGE },
        ...['setTimeout', 'setInterval', 'setImmediate'].map((property) => ({
          object: 'globalThis',
          property,
          message: TIMER_MESSAGE,
        })),
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: NOW_MESSAGE },
        { selector: "CallExpression[callee.name='Date']", message: NOW_MESSAGE },
      ],
    },
  },
];

export default plugin;
