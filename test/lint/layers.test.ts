/**
 * The layer boundaries of ARCHITECTURE.md §3, as lint: the `murmur/layer-imports` rule on its
 * own (RuleTester), and the whole of eslint.config.js on in-memory files placed at fake paths.
 */
import path from 'node:path';
import { ESLint, RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it, test } from 'vitest';
import murmur from '../../eslint-rules/layers.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const at = (file: string) => path.join(root, file);

// RuleTester reports through the test framework's describe/it.
RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const ruleTester = new RuleTester({ languageOptions: { parser: tseslint.parser } });

ruleTester.run('murmur/layer-imports', murmur.rules['layer-imports'], {
  valid: [
    {
      name: 'gossip uses core, wire and crypto',
      filename: at('src/gossip/core.ts'),
      code: "import { x } from '../core/index.js';\nimport { y } from '../wire/index.js';\nimport { z } from '../crypto/keyring.js';",
    },
    {
      name: 'a layer uses its own files',
      filename: at('src/gossip/core.ts'),
      code: "import { x } from './rumor.js';\nimport { y } from './sub/deep.js';",
    },
    {
      name: 'core uses packages and builtins',
      filename: at('src/core/clock.ts'),
      code: "import { z } from 'zod';\nimport path from 'node:path';",
    },
    {
      name: 'net carries sealed frames, so it may use wire',
      filename: at('src/net/udp.ts'),
      code: "import { seal } from '../wire/index.js';",
    },
    {
      name: 'app may use everything',
      filename: at('src/app/main.ts'),
      code: "import { a } from '../testkit/simulate.js';\nimport { b } from '../net/udp.js';\nimport { c } from '../cli/index.js';",
    },
    {
      name: 'cli may import type from any layer',
      filename: at('src/cli/sim.ts'),
      code: "import type { SimReport } from '../testkit/sim-types.js';",
    },
    {
      name: 'cli may export type from any layer',
      filename: at('src/cli/index.ts'),
      code: "export type { SimReport } from '../testkit/sim-types.js';",
    },
    {
      name: 'files outside src/ are not layered',
      filename: at('test/gossip/core.test.ts'),
      code: "import { x } from '../../src/net/udp.js';",
    },
    {
      name: 'testkit drives gossip',
      filename: at('src/testkit/cluster.ts'),
      code: "import { GossipCore } from '../gossip/index.js';",
    },
  ],
  invalid: [
    {
      name: 'gossip may not reach for net',
      filename: at('src/gossip/core.ts'),
      code: "import { udp } from '../net/x.js';",
      errors: [
        {
          messageId: 'forbidden',
          data: { from: 'gossip', to: 'net', source: '../net/x.js', allowed: 'core, wire, crypto' },
        },
      ],
    },
    {
      name: 'core imports nothing',
      filename: at('src/core/clock.ts'),
      code: "import { Packet } from '../wire/index.js';",
      errors: [
        {
          messageId: 'forbidden',
          data: { from: 'core', to: 'wire', source: '../wire/index.js', allowed: 'nothing outside itself' },
        },
      ],
    },
    {
      name: 'import type is no pass outside cli',
      filename: at('src/core/clock.ts'),
      code: "import type { Packet } from '../wire/index.js';",
      errors: [{ messageId: 'forbidden' }],
    },
    {
      name: 'an inline type specifier still loads the module (verbatimModuleSyntax)',
      filename: at('src/cli/sim.ts'),
      code: "import { type SimReport } from '../testkit/sim-types.js';",
      errors: [{ messageId: 'forbidden' }],
    },
    {
      name: 'cli may not use sup directly, only its types',
      filename: at('src/cli/svc.ts'),
      code: "import { Manager } from '../sup/index.js';",
      errors: [{ messageId: 'forbidden' }],
    },
    {
      name: 're-exports and dynamic imports count too',
      filename: at('src/wire/index.ts'),
      code: "export * from '../gossip/index.js';\nexport { x } from '../crypto/index.js';\nconst m = await import('../net/index.js');",
      errors: [{ messageId: 'forbidden' }, { messageId: 'forbidden' }, { messageId: 'forbidden' }],
    },
    {
      name: 'a deep path is resolved to its layer folder',
      filename: at('src/gossip/sub/dir/file.ts'),
      code: "import { x } from '../../../sup/service/hooks.js';",
      errors: [
        {
          messageId: 'forbidden',
          data: { from: 'gossip', to: 'sup', source: '../../../sup/service/hooks.js', allowed: 'core, wire, crypto' },
        },
      ],
    },
    {
      name: 'a layer does not import the package face',
      filename: at('src/sup/manager.ts'),
      code: "import { x } from '../index.js';",
      errors: [{ messageId: 'rootImport' }],
    },
    {
      name: 'src/ does not import from outside src/',
      filename: at('src/cli/version.ts'),
      code: "import pkg from '../../package.json' with { type: 'json' };",
      errors: [{ messageId: 'outsideSrc' }],
    },
    {
      name: 'a folder that is not a layer is reported',
      filename: at('src/utils/strings.ts'),
      code: 'export const x = 1;',
      errors: [{ messageId: 'unknownLayer', data: { layer: 'utils' } }],
    },
  ],
});

describe('eslint.config.js keeps each layer to its capabilities', () => {
  // The project's real config, minus type-aware linting (these files exist only in memory).
  const eslint = new ESLint({ cwd: root, overrideConfig: tseslint.configs.disableTypeChecked });

  async function problems(file: string, code: string) {
    const [result] = await eslint.lintText(code, { filePath: at(file) });
    return (result?.messages ?? []).map((m) => ({ rule: m.ruleId, message: m.message }));
  }

  test('a gossip file importing ../net/x.js is reported', async () => {
    expect(await problems('src/gossip/core.ts', "import { udp } from '../net/x.js';\nexport const u = udp;\n")).toEqual([
      expect.objectContaining({ rule: 'murmur/layer-imports', message: expect.stringContaining('src/gossip may not import src/net') }),
    ]);
  });

  test.each([
    ['setTimeout(() => {}, 10);', 'no-restricted-globals', 'gossip must not set timers'],
    ['setInterval(() => {}, 10);', 'no-restricted-globals', 'gossip must not set timers'],
    ['setImmediate(() => {});', 'no-restricted-globals', 'gossip must not set timers'],
    ['export const t = Date.now();', 'no-restricted-properties', 'gossip must take time from `now`'],
    ['export const t = performance.now();', 'no-restricted-properties', 'gossip must take time from `now`'],
    ['export const t = new Date();', 'no-restricted-syntax', 'gossip must take time from `now`'],
    ['export const r = Math.random();', 'no-restricted-properties', 'gossip must take randomness from its `Random`'],
  ])('in gossip, `%s` is reported', async (code, rule, message) => {
    expect(await problems('src/gossip/core.ts', code)).toEqual([
      expect.objectContaining({ rule, message: expect.stringContaining(message) }),
    ]);
  });

  test('gossip may build a date from a time it was given', async () => {
    expect(await problems('src/gossip/core.ts', 'export const at = (now: number) => new Date(now);\n')).toEqual([]);
  });

  test.each(['node:dgram', 'dgram', 'node:net', 'net', 'node:child_process', 'node:fs'])(
    'gossip may not import %s',
    async (name) => {
      expect(await problems('src/gossip/shell.ts', `import * as m from '${name}';\nexport { m };\n`)).toEqual([
        expect.objectContaining({ rule: 'no-restricted-imports' }),
      ]);
    },
  );

  test('a core file importing ../wire/index.js is reported', async () => {
    expect(await problems('src/core/clock.ts', "import { x } from '../wire/index.js';\nexport { x };\n")).toEqual([
      expect.objectContaining({ rule: 'murmur/layer-imports', message: expect.stringContaining('src/core may not import src/wire') }),
    ]);
  });

  test('only net opens sockets and only sup spawns processes', async () => {
    const sockets = "import dgram from 'node:dgram';\nimport net from 'node:net';\nexport { dgram, net };\n";
    const spawn = "import { spawn } from 'node:child_process';\nexport { spawn };\n";
    expect(await problems('src/net/udp.ts', sockets)).toEqual([]);
    expect(await problems('src/sup/hooks.ts', spawn)).toEqual([]);
    expect(await problems('src/pkg/plan.ts', spawn)).toEqual([]);
    expect(await problems('src/pkg/plan.ts', sockets)).toHaveLength(2);
    expect(await problems('src/sup/hooks.ts', sockets)).toHaveLength(2);
    expect(await problems('src/net/udp.ts', spawn)).toEqual([
      expect.objectContaining({ rule: 'no-restricted-imports', message: expect.stringContaining('Only src/sup/ spawns processes') }),
    ]);
    expect(await problems('src/http/server.ts', sockets)).toEqual([
      expect.objectContaining({ message: expect.stringContaining('Only src/net/ opens sockets') }),
      expect.objectContaining({ message: expect.stringContaining('Only src/net/ opens sockets') }),
    ]);
  });

  test('only cli and app print', async () => {
    const code = "console.log('hi');\n";
    expect(await problems('src/cli/render.ts', code)).toEqual([]);
    expect(await problems('src/app/main.ts', code)).toEqual([]);
    expect(await problems('src/sup/manager.ts', code)).toEqual([expect.objectContaining({ rule: 'no-console' })]);
    expect(await problems('test/anything.test.ts', code)).toEqual([]);
  });

  test('allowed imports pass', async () => {
    const code = [
      "import { seededRandom } from '../core/index.js';",
      "import type { Packet } from '../wire/index.js';",
      "import { open } from '../crypto/index.js';",
      "import { tail } from './queue.js';",
      'export const all = [seededRandom, open, tail];',
      'export type P = Packet;',
      '',
    ].join('\n');
    expect(await problems('src/gossip/core.ts', code)).toEqual([]);
    expect(await problems('src/app/main.ts', "import { runSimulation } from '../testkit/simulate.js';\nexport { runSimulation };\n")).toEqual([]);
  });
});
