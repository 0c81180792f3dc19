// Postroom's Node.js runtime client: loads the function's handler and serves invocations
// over the Lambda Runtime API (2018-06-01), using only Node's standard library.
// Behaviour follows AWS's Node.js runtimes: handler resolution (file.handler,
// dir/file.handler, .js/.mjs/.cjs, CommonJS or ES modules), async and callback handlers,
// the context object, console lines "<ISO time>\t<request id>\t<LEVEL>\t<message>" and the
// error documents {errorType, errorMessage, trace}.

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import util from "node:util";

const [HOST, PORT] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const BASE = "/2018-06-01/runtime";
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || process.cwd();
const HANDLER = process.env._HANDLER || "";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const ERROR_TYPE = "Lambda-Runtime-Function-Error-Type";

// ---- console: one line per call, inner line breaks as \r so a message stays one event ----

let currentRequestId = undefined;
function writeLine(level, args) {
  const text = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}`;
  process.stdout.write(text.replace(/\r?\n/g, "\r") + "\n");
}
console.log = (...args) => writeLine("INFO", args);
console.info = (...args) => writeLine("INFO", args);
console.warn = (...args) => writeLine("WARN", args);
console.error = (...args) => writeLine("ERROR", args);
console.debug = (...args) => writeLine("DEBUG", args);
console.trace = (...args) => {
  const err = { name: "Trace", message: util.format(...args) };
  Error.captureStackTrace(err, console.trace);
  writeLine("TRACE", [err.stack]);
};

// ---- the Runtime API ----

function call(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port: PORT, path: BASE + urlPath, method, agent, headers },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.setHeader("Content-Length", Buffer.byteLength(body));
    req.end(body);
  });
}

// ---- errors as AWS shapes them ----

class RuntimeError extends Error {
  constructor(type, message, cause) {
    super(message);
    this.name = type;
    if (cause && typeof cause.stack === "string") {
      const frames = cause.stack.split("\n").filter((line) => line.startsWith("    at "));
      this.stack = [`${type}: ${message}`, ...frames].join("\n");
    }
  }
}

function errorDocument(err) {
  if (err instanceof Error) {
    const name = err.name && err.name !== "Error" ? err.name : (err.constructor && err.constructor.name) || "Error";
    return {
      errorType: name,
      errorMessage: err.message,
      trace: typeof err.stack === "string" ? err.stack.split("\n") : [],
    };
  }
  try {
    return { errorType: typeof err, errorMessage: typeof err === "string" ? err : JSON.stringify(err), trace: [] };
  } catch {
    return { errorType: typeof err, errorMessage: String(err), trace: [] };
  }
}

function logError(label, doc) {
  const { trace, ...rest } = doc;
  writeLine("ERROR", [`${label} \t${JSON.stringify({ ...rest, stack: trace })}`]);
}

async function postInitError(err) {
  const doc = errorDocument(err);
  logError("Uncaught Exception", doc);
  await call("POST", "/init/error", JSON.stringify(doc), { [ERROR_TYPE]: doc.errorType, "Content-Type": "application/json" });
  process.exit(129);
}

// ---- loading the handler ----

function packageType(dir) {
  for (let d = dir; ; d = path.dirname(d)) {
    const pkg = path.join(d, "package.json");
    if (fs.existsSync(pkg)) {
      try {
        return JSON.parse(fs.readFileSync(pkg, "utf8")).type || "commonjs";
      } catch {
        return "commonjs";
      }
    }
    if (d === path.dirname(d) || d === path.dirname(TASK_ROOT)) return "commonjs";
  }
}

const require = createRequire(import.meta.url);

async function loadModule(moduleRoot, moduleName) {
  const base = path.resolve(TASK_ROOT, moduleRoot, moduleName);
  if (fs.existsSync(base + ".js")) {
    return packageType(path.dirname(base)) === "module"
      ? await import(pathToFileURL(base + ".js").href)
      : require(base + ".js");
  }
  if (fs.existsSync(base + ".mjs")) return await import(pathToFileURL(base + ".mjs").href);
  if (fs.existsSync(base + ".cjs")) return require(base + ".cjs");
  // Node's own resolution: a package in node_modules or on NODE_PATH.
  const resolved = require.resolve(moduleName, { paths: [path.resolve(TASK_ROOT, moduleRoot), TASK_ROOT] });
  return resolved.endsWith(".mjs") ? await import(pathToFileURL(resolved).href) : require(resolved);
}

async function loadHandler(handlerString) {
  const slash = handlerString.lastIndexOf("/");
  const moduleRoot = handlerString.slice(0, slash + 1);
  const moduleAndHandler = handlerString.slice(slash + 1);
  const dot = moduleAndHandler.indexOf(".");
  if (dot < 1) throw new RuntimeError("Runtime.MalformedHandlerName", "Bad handler");
  const moduleName = moduleAndHandler.slice(0, dot);
  const handlerPath = moduleAndHandler.slice(dot + 1);
  let mod;
  try {
    mod = await loadModule(moduleRoot, moduleName);
  } catch (err) {
    if (err instanceof SyntaxError) throw new RuntimeError("Runtime.UserCodeSyntaxError", String(err), err);
    if (err && (err.code === "MODULE_NOT_FOUND" || err.code === "ERR_MODULE_NOT_FOUND")) {
      throw new RuntimeError("Runtime.ImportModuleError", String(err), err);
    }
    throw err;
  }
  let fn = mod;
  for (const part of handlerPath.split(".")) fn = fn == null ? undefined : fn[part];
  if (fn === undefined && mod && mod.default && typeof mod.default === "object") {
    fn = mod.default;
    for (const part of handlerPath.split(".")) fn = fn == null ? undefined : fn[part];
  }
  if (fn === undefined) {
    throw new RuntimeError("Runtime.HandlerNotFound", `${moduleAndHandler} is undefined or not exported`);
  }
  if (typeof fn !== "function") {
    throw new RuntimeError("Runtime.HandlerNotFound", `${moduleAndHandler} is not a function`);
  }
  return fn;
}

// ---- one invocation ----

let current = null; // { requestId, settle(kind, value) }

function parseJsonHeader(value) {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

function makeContext(headers, settle) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const clientContext = headers["lambda-runtime-client-context"];
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parseJsonHeader(headers["lambda-runtime-cognito-identity"]),
    clientContext: parseJsonHeader(clientContext),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: (err, result) => settle(err == null ? "result" : "error", err == null ? result : err, true),
    succeed: (result) => settle("result", result, true),
    fail: (err) => settle("error", err ?? "handled", true),
  };
  return context;
}

async function post(requestId, kind, value) {
  if (kind === "result") {
    let body;
    try {
      body = JSON.stringify(value === undefined ? null : value);
    } catch (err) {
      kind = "error";
      value = err;
    }
    if (kind === "result") {
      await call("POST", `/invocation/${requestId}/response`, body ?? "null", { "Content-Type": "application/json" });
      return;
    }
  }
  const doc = errorDocument(value);
  logError("Invoke Error", doc);
  await call("POST", `/invocation/${requestId}/error`, JSON.stringify(doc), {
    [ERROR_TYPE]: doc.errorType,
    "Content-Type": "application/json",
  });
}

function runInvocation(handler, res) {
  return new Promise((resolve) => {
    const requestId = res.headers["lambda-runtime-aws-request-id"];
    let settled = false;
    let deferred = null; // a callback answer waiting for the event loop to empty
    const send = (kind, value) => post(requestId, kind, value).then(resolve, (err) => {
      process.stderr.write(`postroom bootstrap: cannot post the answer: ${err}\n`);
      process.exit(1);
    });
    const settle = (kind, value, viaCallback) => {
      if (settled) return;
      settled = true;
      if (viaCallback && context.callbackWaitsForEmptyEventLoop) {
        deferred = { kind, value };
      } else {
        cleanup();
        send(kind, value);
      }
    };
    // The loop is empty: the deferred callback answer goes now, or null if nothing answered.
    const onEmpty = () => {
      if (deferred) {
        const { kind, value } = deferred;
        deferred = null;
        cleanup();
        send(kind, value);
      } else if (!settled) {
        settled = true;
        cleanup();
        send("result", null);
      }
    };
    const cleanup = () => {
      process.removeListener("beforeExit", onEmpty);
      current = null;
    };
    const context = makeContext(res.headers, settle);
    current = { requestId, settle: (kind, value) => settle(kind, value, false) };
    process.on("beforeExit", onEmpty);
    currentRequestId = requestId;
    if (res.headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = res.headers["lambda-runtime-trace-id"];
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = JSON.parse(res.body.toString("utf8"));
    } catch (err) {
      settle("error", err, false);
      return;
    }
    const callback = (err, result) => settle(err == null ? "result" : "error", err == null ? result : err, true);
    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (err) {
      settle("error", err, false);
      return;
    }
    if (returned && typeof returned.then === "function") {
      returned.then((value) => settle("result", value, false), (err) => settle("error", err, false));
    }
  });
}

// ---- crashes: report to the invocation in flight (or init), then exit as AWS's does ----

process.on("uncaughtException", (err) => {
  if (!current) {
    postInitError(err).catch(() => process.exit(129));
    return;
  }
  logError("Uncaught Exception", errorDocument(err));
  const { requestId } = current;
  current = null;
  const doc = errorDocument(err);
  call("POST", `/invocation/${requestId}/error`, JSON.stringify(doc), { [ERROR_TYPE]: doc.errorType })
    .finally(() => process.exit(129));
});

process.on("unhandledRejection", (reason) => {
  const err = new RuntimeError("Runtime.UnhandledPromiseRejection", String(reason instanceof Error ? `${reason.name}: ${reason.message}` : reason), reason instanceof Error ? reason : undefined);
  if (!current) {
    postInitError(err).catch(() => process.exit(128));
    return;
  }
  const doc = errorDocument(err);
  logError("Unhandled Promise Rejection", doc);
  const { requestId } = current;
  current = null;
  call("POST", `/invocation/${requestId}/error`, JSON.stringify(doc), { [ERROR_TYPE]: doc.errorType })
    .finally(() => process.exit(128));
});

// ---- main ----

let handler;
try {
  handler = await loadHandler(HANDLER);
} catch (err) {
  await postInitError(err);
}

for (;;) {
  const res = await call("GET", "/invocation/next");
  if (res.status !== 200) {
    process.stderr.write(`postroom bootstrap: next answered ${res.status}\n`);
    process.exit(1);
  }
  await runInvocation(handler, res);
  currentRequestId = undefined;
}
