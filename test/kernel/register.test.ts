/**
 * `kernel.register()` runs a function from its source text alone, so it takes only what that
 * text can stand for: a function or arrow function written in JavaScript. Native and bound
 * functions (whose text is `[native code]`), method shorthands, accessors and classes (whose
 * text is not a function expression) are refused with a UsageError naming why, and nothing
 * runs.
 */
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "../../dist/runtime/index.js";
import { kernelFor } from "./helpers.js";

const kernel = kernelFor({ pool: { warm: 0 } });
afterAll(() => kernel.close());

type Fn = (task: string, sdk: never) => unknown;
const asFn = (value: unknown) => value as Fn;

function refusal(fn: unknown): UsageError {
  try {
    kernel.register(asFn(fn));
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`register() accepted ${String(fn)}`);
}

const NATIVE: [string, unknown][] = [
  ["Math.max", Math.max],
  ["parseInt", parseInt],
  ["Array.prototype.push", Array.prototype.push],
  ["Object", Object],
  ["Function.prototype", Function.prototype],
  ["a proxy around a function", new Proxy(function proxied() {}, {})],
  ["Function.prototype.toString itself", Function.prototype.toString],
];

const BOUND: [string, unknown][] = [
  ["a bound function", function run(task: string) { return task; }.bind(null)],
  ["a bound arrow", ((task: string) => task).bind(null)],
  ["a function bound twice", function twice() {}.bind(null).bind(null)],
];

const methods = {
  run(task: string) {
    return task;
  },
  async asyncRun(task: string) {
    return task;
  },
  *generator() {
    yield 1;
  },
  ["computed" + "Name"](task: string) {
    return task;
  },
  async(task: string) {
    return task;
  },
  get getter() {
    return () => "x";
  },
};

const NOT_EXPRESSIONS: [string, unknown][] = [
  ["a method shorthand", methods.run],
  ["an async method shorthand", methods.asyncRun],
  ["a generator method", methods.generator],
  ["a method with a computed name", (methods as unknown as Record<string, unknown>).computedName],
  ["a method named async", methods.async],
  ["a getter", Object.getOwnPropertyDescriptor(methods, "getter")!.get],
  ["a class", class Agent {}],
  ["a class that extends another", class Derived extends Object {}],
  ["a static method", class { static run(task: string) { return task; } }.run],
];

describe("register() refuses what its source text cannot stand for", () => {
  it.each(NATIVE)("native: %s", (_name, fn) => {
    expect(refusal(fn).message).toMatch(/^register\(\) needs a function written in JavaScript; .* is native or bound$/);
  });

  it.each(BOUND)("bound: %s", (_name, fn) => {
    expect(refusal(fn).message).toMatch(/^register\(\) needs a function written in JavaScript; bound .* is native or bound$/);
  });

  it.each(NOT_EXPRESSIONS)("not a standalone function expression: %s", (_name, fn) => {
    expect(refusal(fn).message).toMatch(/^register\(\): the source of .* is not a standalone function expression \(a method shorthand or a class cannot be registered; use a function or an arrow function\)$/);
  });

  it("what is not a function at all", () => {
    for (const value of [42, "async function run() {}", null, undefined, {}, { run() {} }]) {
      expect(refusal(value).message).toBe("register() takes a function");
    }
  });
});

describe("register() takes functions and arrows, which then run from their text", () => {
  it.each([
    ["a function expression", function greet(task: string) { return `function: ${task}`; }],
    ["an async function", async function greet(task: string) { return `async: ${task}`; }],
    ["an arrow", (task: string) => `arrow: ${task}`],
    ["an async arrow", async (task: string) => `async arrow: ${task}`],
    ["a function whose text mentions [native code]", function quoted(task: string) { return `{ [native code] } ${task}`; }],
  ])("%s", async (_name, fn) => {
    const agent = kernel.register(asFn(fn));
    const result = await kernel.execute(agent, "x");
    expect(result).toMatchObject({ status: "ok", output: await (fn as (t: string) => unknown)("x") });
  });
});
