// Hardens an engine's one context so that an evaluation cannot leave anything behind
// for the next (crates/js/src/engine.rs runs this once per engine, after compiling the
// expression: a fresh context per evaluation would cost ten times the evaluation).
//
// Called with what the wrapper keeps between evaluations (its entry points and the
// expression's function, `env`, `CASES`). What could carry state, and what is done:
// - every object reachable from the global object (the global object too: no new
//   globals, none reassigned), from the wrapper, and from the hidden intrinsics
//   (iterator and generator prototypes, ...): deeply frozen;
// - code from strings (`eval`, `Function(...)` and its generator and async kin) could
//   declare global `let`/`const` bindings that live outside any object: refused;
// - `Error.prepareStackTrace` and `Error.stackTraceLimit` keep their value inside the
//   engine, not on an object: read-only data properties instead.
// Promise jobs left by an evaluation are run or dropped by engine.rs before the next one.
// Frozen prototypes would turn `o.toString = f` or `Object.assign({}, {constructor: 1})`
// into a failure (the "override mistake"), so the data properties of Object.prototype and
// of the error prototypes become accessors whose setter defines an own property.
(function (entries, env, cases) {
  "use strict";
  const global = globalThis;
  const { freeze, defineProperty, getOwnPropertyDescriptor, getPrototypeOf } = Object;
  const { ownKeys } = Reflect;
  const isObject = (v) => (typeof v === "object" && v !== null) || typeof v === "function";

  for (const name of ["prepareStackTrace", "stackTraceLimit"]) {
    const d = getOwnPropertyDescriptor(Error, name);
    if (d) defineProperty(Error, name, { value: d.get ? d.get.call(Error) : d.value, writable: false, configurable: false });
  }

  const refuse = function () {
    throw new EvalError("code from strings is disabled in fnmesh expressions");
  };
  defineProperty(global, "eval", { value: refuse });
  const functionPrototypes = [
    Function.prototype,
    getPrototypeOf(function* () {}),
    getPrototypeOf(async function () {}),
    getPrototypeOf(async function* () {}),
  ];
  for (const prototype of functionPrototypes) {
    const name = prototype.constructor.name;
    const tamed = function () {
      throw new EvalError("code from strings is disabled in fnmesh expressions");
    };
    defineProperty(tamed, "name", { value: name });
    defineProperty(tamed, "prototype", { value: prototype, writable: false });
    defineProperty(prototype, "constructor", { value: tamed });
  }
  defineProperty(global, "Function", { value: Function.prototype.constructor });

  const enable = (prototype, name) => {
    const d = getOwnPropertyDescriptor(prototype, name);
    if (!d || !("value" in d)) return;
    const value = d.value;
    defineProperty(prototype, name, {
      get: function () {
        return value;
      },
      set: function (v) {
        if (!isObject(this)) return;
        if (this === prototype) throw new TypeError(`Cannot assign to read only property '${String(name)}'`);
        defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: d.enumerable,
      configurable: false,
    });
  };
  for (const name of ownKeys(Object.prototype)) enable(Object.prototype, name);
  const errors = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError];
  for (const kind of [...errors, global.InternalError, global.SuppressedError]) {
    if (typeof kind !== "function") continue;
    for (const name of ["constructor", "name", "message", "toString"]) enable(kind.prototype, name);
  }

  // Objects no global property leads to: reached through instances of their kind.
  const hidden = [
    function* () {},
    async function () {},
    async function* () {},
    (function* () {})(),
    (async function* () {})(),
    [][Symbol.iterator](),
    new Map()[Symbol.iterator](),
    new Set()[Symbol.iterator](),
    ""[Symbol.iterator](),
    /x/[Symbol.matchAll](""),
    (function () {
      return arguments;
    })(),
  ];
  if (typeof Iterator === "function") {
    hidden.push([].values().map((x) => x));
    if (Iterator.from) hidden.push(Iterator.from({ next: () => ({ done: true }) }));
    if (Iterator.concat) hidden.push(Iterator.concat());
  }

  // Returned: the names under which some object reached here holds a function (as a
  // value, or as what its getter answers), for straight.rs.
  const callables = new Set(["__proto__"]);
  const seen = new Set();
  const todo = [global, entries, env, cases, ...hidden];
  while (todo.length > 0) {
    const o = todo.pop();
    if (!isObject(o) || seen.has(o)) continue;
    seen.add(o);
    freeze(o);
    todo.push(getPrototypeOf(o));
    for (const key of ownKeys(o)) {
      const d = getOwnPropertyDescriptor(o, key);
      if (!d) continue;
      todo.push(d.value, d.get, d.set);
      if (typeof key !== "string") continue;
      if (typeof d.value === "function") callables.add(key);
      if (d.get) {
        try {
          if (typeof d.get.call(o) === "function") callables.add(key);
        } catch (e) {
          // A getter that refuses this object (`caller`, `byteLength` of a prototype).
        }
      }
    }
  }
  return [...callables];
});
