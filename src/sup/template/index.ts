/**
 * sup/template: config layering and Handlebars templating for a service, as Habitat's
 * `components/common/src/templating/` does it. Read in this order: `config.ts` (the four layers,
 * merge, exports), `context.ts` (what templates see), `render.ts` (the engine and the helpers),
 * `render-dir.ts` (writing `config/` and `hooks/`), `changes.ts` (restart or reconfigure).
 * User-facing description: docs/templates.md.
 */
export {
  type ConfigTable,
  type ConfigValue,
  ConfigDate,
  MAX_MERGE_DEPTH,
  parseTomlLayer,
  envLayer,
  envLayerName,
  mergeLayers,
  exportedConfig,
  toTomlText,
  isFloatEntry,
} from './config.js';
export { toJsonText, toYamlText } from './formats.js';
export {
  type CompiledTemplate,
  type TemplateEngine,
  type TemplateEngineOptions,
  DEFAULT_MAX_OUTPUT_BYTES,
  createTemplateEngine,
  rewriteIndexing,
} from './render.js';
export {
  type RenderDirOptions,
  type RenderDirResult,
  type RenderFileError,
  type RenderHooksResult,
  CONFIG_FILE_MODE,
  HOOK_FILE_MODE,
  renderDir,
  renderHooks,
  hookName,
} from './render-dir.js';
export type {
  BindInput,
  CensusMemberInput,
  ElectionStatusInput,
  MemberSysInput,
  PkgDepInput,
  PkgInput,
  RenderContext,
  RenderContextInput,
  ServiceGroupInput,
  SysInput,
  TemplateBind,
  TemplateMember,
  TemplatePkg,
  TemplateSvc,
} from './context.js';
export { buildRenderContext } from './context.js';
export { type RestartReason, type TemplateChanges, type TemplateUpdate, decideTemplateUpdate } from './changes.js';
