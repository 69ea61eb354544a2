/** Types for `layers.js` (plain JavaScript, loaded by eslint.config.js without a build). */
import type { ESLint, Linter, Rule } from 'eslint';

/** Which layers each layer may import (its own folder is always allowed); `'*'` means any. */
export declare const LAYERS: Readonly<Record<string, readonly string[]>>;
/** Layers that may `import type` from any layer. */
export declare const TYPE_ONLY_FROM_ANY: readonly string[];

declare const plugin: ESLint.Plugin & {
  rules: { 'layer-imports': Rule.RuleModule };
  configs: { layers: Linter.Config[] };
};
export default plugin;
