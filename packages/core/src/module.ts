import * as tf from '@tensorflow/tfjs';
import { CheckpointMismatchError, InvalidArgumentError, listFirst } from './errors.js';

/** Tensors by dotted parameter name, e.g. `h.0.attn.c_attn.weight`. */
export type StateDict = Record<string, tf.Tensor>;

export interface LoadStateDictOptions {
  /** Refuse missing and unexpected names (default true). Shapes are always checked. */
  strict?: boolean;
}

/**
 * A PyTorch-like module: parameters and child modules registered by name form a tree whose dotted paths are
 * the state-dict keys. Subclasses register in their constructor and implement whatever forward they need;
 * callers run forward passes inside `tf.tidy` (or an optimizer's `minimize`), so modules never dispose
 * intermediates themselves.
 */
export abstract class Module {
  /** Train mode turns dropout on. Set it for the whole tree with `train()` / `eval()`. */
  training = true;
  readonly #params = new Map<string, tf.Variable>();
  readonly #children = new Map<string, Module>();

  /** Registers `init` as a trainable parameter; the module owns it from now on. */
  protected param(name: string, init: tf.Tensor, trainable = true): tf.Variable {
    this.#checkName(name);
    const v = tf.variable(init, trainable);
    init.dispose();
    this.#params.set(name, v);
    return v;
  }

  /** Registers a child module under `name`. */
  protected module<M extends Module>(name: string, child: M): M {
    this.#checkName(name);
    this.#children.set(name, child);
    return child;
  }

  /** Registers children as `name.0`, `name.1`, ... (PyTorch's ModuleList naming). */
  protected moduleList<M extends Module>(name: string, children: M[]): M[] {
    this.#checkName(name);
    const list = new ModuleList(children);
    this.#children.set(name, list);
    return children;
  }

  /**
   * Swaps the registered child `name` for `child` (same place in the parameter order) and points the field of
   * the same name at it, so the new module's parameters are the ones trained and saved. A dotted path reaches
   * into the tree: `model.replace('layers.0.attnNorm', new RMSNorm(d))`. The old child's parameters are
   * disposed unless `disposeOld` is false. Returns `child`.
   */
  replace<M extends Module>(path: string, child: M, { disposeOld = true }: { disposeOld?: boolean } = {}): M {
    if (!(child instanceof Module))
      throw new InvalidArgumentError(`replace('${path}', ...): the replacement must be a Module`);
    const dot = path.lastIndexOf('.');
    if (dot >= 0) {
      const parentPath = path.slice(0, dot);
      const parent = this.namedModules().find(([n]) => n === parentPath)?.[1];
      if (!parent) throw new InvalidArgumentError(`replace: no module '${parentPath}' in this model`);
      return parent.replace(path.slice(dot + 1), child, { disposeOld });
    }
    const old = this.#children.get(path);
    if (!old) {
      const known = [...this.#children.keys()];
      throw new InvalidArgumentError(
        `replace: '${path}' is not a registered child (children: ${known.join(', ') || 'none'}); register a new one with this.module('${path}', m) in the constructor`,
      );
    }
    this.#children.set(path, child);
    const self = this as unknown as Record<string, unknown>;
    if (self[path] === old) self[path] = child;
    this.onReplace(path, old, child);
    if (disposeOld && old !== child) {
      const kept = new Set(child.parameters());
      for (const v of old.parameters()) if (!kept.has(v)) v.dispose();
    }
    return child;
  }

  /** Hook for containers that mirror their children elsewhere (ModuleList's array). */
  protected onReplace(_name: string, _old: Module, _child: Module): void {}

  /**
   * A Module in a field (or an array field) that is not a registered child would be run by forward but never
   * trained, saved or loaded: refuse it, naming the fix. A module owned elsewhere in the tree (a reference,
   * as LoRA's adapter keeps to the Linears it adapts) belongs in a private `#field`, which this does not see.
   */
  #checkFields(): void {
    const registered = new Set(this.#children.values());
    for (const list of this.#children.values())
      if (list instanceof ModuleList) for (const c of list.items) registered.add(c);
    for (const [field, value] of Object.entries(this)) {
      const items = Array.isArray(value) ? value : [value];
      for (const m of items) {
        if (!(m instanceof Module) || registered.has(m)) continue;
        const fix = this.#children.has(field)
          ? `call this.replace('${field}', m) instead of assigning the field`
          : `register it with this.module('${field}', m)${Array.isArray(value) ? ` (or this.moduleList('${field}', ms))` : ''}, or keep a module owned elsewhere in a private #${field}`;
        throw new InvalidArgumentError(
          `${this.constructor.name}.${field} holds a ${m.constructor.name} that is not registered, so its parameters would not be trained or saved: ${fix}`,
        );
      }
    }
  }

  /**
   * Adds a child after construction (an adapter injected into a built model, as PEFT's LoRA does); its
   * parameters join the tree's names, state dict and optimizer like any other.
   */
  addModule<M extends Module>(name: string, child: M): M {
    return this.module(name, child);
  }

  /** Detaches and returns the child `name` (its parameters are not freed: the caller owns them now). */
  removeModule(name: string): Module {
    const child = this.#children.get(name);
    if (!child) throw new InvalidArgumentError(`no child module '${name}'`);
    this.#children.delete(name);
    return child;
  }

  #checkName(name: string): void {
    if (!name || name.includes('.'))
      throw new InvalidArgumentError(`invalid module/parameter name '${name}'`);
    if (this.#params.has(name) || this.#children.has(name))
      throw new InvalidArgumentError(`'${name}' is already registered`);
  }

  /** All parameters in registration order, with dotted names. */
  namedParameters(prefix = ''): Array<[string, tf.Variable]> {
    this.#checkFields();
    const out: Array<[string, tf.Variable]> = [];
    for (const [name, v] of this.#params) out.push([prefix + name, v]);
    for (const [name, child] of this.#children)
      for (const entry of child.namedParameters(`${prefix}${name}.`)) out.push(entry);
    return out;
  }

  parameters(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  /** Trainable parameters only, as the map `tf.Optimizer.applyGradients` and `variableGrads` use. */
  trainableParameters(): tf.Variable[] {
    return this.parameters().filter((v) => v.trainable);
  }

  numParameters(): number {
    return this.parameters().reduce((n, v) => n + v.size, 0);
  }

  /** Named child modules, recursively, depth first. */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    for (const [name, child] of this.#children) {
      out.push([prefix + name, child]);
      for (const entry of child.namedModules(`${prefix}${name}.`)) out.push(entry);
    }
    return out;
  }

  /** The live parameters by dotted name (not copies: do not dispose them). */
  stateDict(): StateDict {
    return Object.fromEntries(this.namedParameters());
  }

  /**
   * Copies values into the parameters. Names and shapes must match exactly (with `strict`, also the set
   * of names); the error lists the first differences so a wrong checkpoint is easy to diagnose. Nothing is
   * assigned unless everything matches. The caller keeps ownership of `state`.
   */
  loadStateDict(state: StateDict, options: LoadStateDictOptions = {}): void {
    const strict = options.strict ?? true;
    const own = new Map(this.namedParameters());
    const problems: string[] = [];
    const missing = [...own.keys()].filter((k) => !(k in state));
    const unexpected = Object.keys(state).filter((k) => !own.has(k));
    if (strict && missing.length) problems.push(`missing: ${listFirst(missing)}`);
    if (strict && unexpected.length) problems.push(`unexpected: ${listFirst(unexpected)}`);
    const shapeDiffs: string[] = [];
    for (const [name, v] of own) {
      const t = state[name];
      if (t && !tf.util.arraysEqual(t.shape, v.shape)) {
        shapeDiffs.push(`${name}: checkpoint [${t.shape}] vs model [${v.shape}]`);
      }
    }
    if (shapeDiffs.length) problems.push(`shape mismatch: ${listFirst(shapeDiffs)}`);
    if (problems.length)
      throw new CheckpointMismatchError(`state dict does not fit the model; ${problems.join('; ')}`);
    for (const [name, v] of own) {
      const t = state[name];
      if (t) v.assign(t.dtype === v.dtype ? t : tf.tidy(() => t.cast(v.dtype)));
    }
  }

  /** Sets train mode (dropout on) for this module and all children. */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.#children.values()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter in the tree. */
  dispose(): void {
    for (const v of this.parameters()) v.dispose();
  }
}

class ModuleList<M extends Module> extends Module {
  /** The caller's array (the parent's field): kept in step by `replace`. */
  readonly items: M[];
  constructor(children: M[]) {
    super();
    this.items = children;
    for (const [i, c] of children.entries()) this.module(String(i), c);
  }
  protected override onReplace(name: string, _old: Module, child: Module): void {
    this.items[Number(name)] = child as M;
  }
}
