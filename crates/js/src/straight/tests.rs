//! What `check` lets through and what not, and the objects that hold each allowed name.

#![allow(clippy::unwrap_used)]
use super::*;
use crate::Limits;
use crate::engine::{Call, Engine, Outcome, Program};
use crate::input::Input;

/// For each allowed method, the built-in objects that hold a function by that name.
const OWNERS: &str = "(() => {
    const owners = [['globalThis', globalThis]];
    for (const k of Object.getOwnPropertyNames(globalThis)) {
        const v = globalThis[k];
        if ((typeof v === 'object' && v !== null) || typeof v === 'function') {
            owners.push([k, v]);
            if (v.prototype) owners.push([k + '.prototype', v.prototype]);
        }
    }
    const typed = Object.getPrototypeOf(Int8Array);
    owners.push(['TypedArray', typed], ['TypedArray.prototype', typed.prototype]);
    for (const it of [[][Symbol.iterator](), ''[Symbol.iterator](), new Map()[Symbol.iterator](),
                      new Set()[Symbol.iterator](), /x/[Symbol.matchAll]('')]) {
        owners.push(['an iterator prototype', Object.getPrototypeOf(it)]);
    }
    return NAMES.map(n => [n, owners.filter(([, o]) => {
        const d = Object.getOwnPropertyDescriptor(o, n);
        return d && (typeof d.value === 'function' || d.get);
    }).map(([k]) => k)]);
})()";

#[test]
fn every_allowed_method_belongs_to_math_json_dates_numbers_strings_or_arrays() {
    let names: Vec<&str> = METHODS.iter().chain(&SEARCHES).copied().collect();
    let source = OWNERS.replace("NAMES", &serde_json::to_string(&names).unwrap());
    let program = Program { var: "T".into(), source, env_json: "{}".into(), cases_json: "[]".into() };
    let limits = Limits { timeout: std::time::Duration::from_secs(10), ..Limits::default() };
    let engine = Engine::new(&program, &limits).unwrap();
    let Ok(Outcome::Json(Some(text)) | Outcome::Plain(Some(text))) =
        engine.call(&Call::Value, &Input::Json("{}".into()))
    else {
        panic!()
    };
    let owners: Vec<(String, Vec<String>)> = serde_json::from_str(&text).unwrap();
    // Objects a straight-line expression cannot reach may have the names too: no allowed
    // name leads to buffers, `performance` or `Iterator`, no allowed method returns an
    // iterator or a typed array.
    let known = [
        "globalThis",
        "Math",
        "JSON",
        "Date",
        "Date.prototype",
        "Number",
        "Number.prototype",
        "String.prototype",
        "Array.prototype",
        "TypedArray.prototype",
        "ArrayBuffer.prototype",
        "SharedArrayBuffer.prototype",
        "performance",
        "Iterator",
        "Iterator.prototype",
    ];
    for (name, owners) in owners {
        assert!(!owners.is_empty(), "{name}: no built-in has it");
        for owner in &owners {
            assert!(known.contains(&owner.as_str()), "{name} is also a function of {owner}");
        }
    }
}

fn callables() -> HashSet<String> {
    [
        "constructor",
        "__proto__",
        "prototype",
        "toString",
        "valueOf",
        "call",
        "apply",
        "bind",
        "map",
        "fromCharCode",
        "match",
        "matchAll",
        "search",
        "test",
        "exec",
    ]
    .into_iter()
    .chain(METHODS)
    .chain(SEARCHES)
    .map(str::to_owned)
    .collect()
}

#[test]
fn plain_expressions_are_straight_line() {
    for source in [
        "Math.round(Date.parse(event.time) / 60000) % 2 === 0",
        "({message: event.data.message + '!'})",
        "event.type === 'order.created' && event.data.amount > 100",
        "['a', 'b'].includes(event.type) || event.source.startsWith('/orders')",
        "event.type.split('.')[0] + `-${event.id}`",
        "({...event.data, n: event.data.items.length, at: new Date(event.time).getTime(), 'k': [1, 2][0]})",
        "event.data?.items?.[0]?.qty ?? 0",
        "typeof event.data === 'object' ? JSON.stringify(event.data) : String(event.data)",
        "event.data.s.replace('a', 'b').includes(\"x\", 2) /* a comment: 'event' */",
        "event.data.s.split(',', event.data.n).length + JSON.stringify({a: [1, 2]}).length",
        "event.time instanceof Date || !isNaN(Number(env.LIMIT)) && Math.max(...event.data.values) > 1",
        "{[event.id]: 1}",
        "event.data.map ? event.data.call > 1 : event.data.at + 1",
    ] {
        assert_eq!(check(source, &callables()), Ok(()), "{source}");
    }
}

#[test]
fn what_may_run_long_or_reach_further_is_not() {
    for source in [
        "(() => { while (true) {} })()",
        "(function () { return 1; })()",
        "({get x() { return 1; }}).x",
        "({f() {}}).f()",
        "/^(a+)+$/.test(event.data.s)",
        "event.data.s.match('a+')",
        "event.data.s.includes(event.data.needle)",
        "event.data.s.split(event.data.sep)",
        "event.data.items.includes(event.type)",
        "event.data.s.indexOf(`a`)",
        "[].join.call(event.data, '')",
        "({toString: [].join})",
        "event.data.s.slice",
        "event['constructor']",
        "event[event.data.k]",
        "event.constructor",
        "({__proto__: []})",
        "({'__proto__': []})",
        "({'\\u005f_proto__': []})",
        "x = 1",
        "event.n++",
        "delete event.data",
        "this.Array",
        "arguments[0]",
        "globalThis",
        "Array(1e9).join('')",
        "Object.keys(event)",
        "String.fromCharCode(1)",
        "String.prototype",
        "[String][0]",
        "Math.max`1`",
        "1n ** 100000n",
        "eval('1')",
        "a; b",
        "(1",
        "({a: event.data.map})",
        "event.data.map && 1",
        "[event.data.map]",
        "Math.max(event.data.map)",
        "event.data.s.replaceAll('', event.data.r)",
        "event.data.s.replace('a')",
        "JSON.stringify(event.data, event.data.keys)",
        "JSON.stringify(...event.data.args)",
        "event.data.s.includes(...['a'])",
        "event.data.s.includes(('a'))",
    ] {
        assert!(check(source, &callables()).is_err(), "{source}");
    }
}
