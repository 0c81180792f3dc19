// Postroom console: a small single-page app over /_postroom/console/api (no build step).
"use strict";

const API = "/_postroom/console/api/";
const POLL_MS = 2000;
const HISTORY = 90; // chart points kept per queue
let timer = null;   // the current view's refresh loop
let generation = 0; // bumps on every navigation, so late answers of an old view are dropped

// -- plumbing ---------------------------------------------------------------------------------

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  };
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (err) {
    throw new Error("The server could not be reached (" + err.message + ").");
  }
  let doc = null;
  try { doc = await response.json(); } catch (err) { doc = null; }
  if (!response.ok) {
    const e = doc && doc.error;
    throw new Error(e ? e.code + ": " + e.message : "The server answered HTTP " + response.status + ".");
  }
  return doc;
}

function where() {
  const form = document.getElementById("where");
  return { account: form.account.value.trim(), region: form.region.value.trim() };
}

function qs(params) {
  const all = Object.assign({}, where(), params);
  return Object.keys(all).filter((k) => all[k] !== undefined && all[k] !== "")
    .map((k) => encodeURIComponent(k) + "=" + encodeURIComponent(all[k])).join("&");
}

// h("tag.class", {attr: value, onclick: fn}, children...): builds elements without innerHTML.
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  document.getElementById("error").hidden = true;
}

// Run an action from a button: errors show in the banner, success clears it.
async function act(button, fn) {
  if (button) button.disabled = true;
  try {
    const out = await fn();
    clearError();
    return out;
  } catch (err) {
    showError(err.message);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + " s";
  if (seconds < 3600) return (seconds / 60).toFixed(1) + " min";
  if (seconds < 86400) return (seconds / 3600).toFixed(1) + " h";
  return (seconds / 86400).toFixed(1) + " d";
}

function when(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").replace("Z", "") : "–";
}

function rate(value) {
  return value === null || value === undefined ? "–" : value.toFixed(value < 10 ? 1 : 0);
}

function nameOf(arn) {
  return arn ? arn.split(":").pop() : "";
}

function table(headers, rows, empty) {
  if (!rows.length) return h("p.note", {}, empty || "Nothing here.");
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x) => h(x.startsWith("#") ? "th.num" : "th", {}, x.replace(/^#/, ""))))),
    h("tbody", {}, rows));
}

function pager(paging, go) {
  return h("div.toolbar", {},
    h("button.plain", { disabled: paging.page <= 1, onclick: () => go(paging.page - 1) }, "‹ Previous"),
    h("span.note", {}, `Page ${paging.page} of ${paging.pages} (${paging.total} in all)`),
    h("button.plain", { disabled: paging.page >= paging.pages, onclick: () => go(paging.page + 1) }, "Next ›"));
}

function attributeRows(container) {
  // Message attribute editor: rows of name / type / value.
  const rows = h("div");
  const add = () => rows.append(h("div.row.attr", {},
    h("input", { placeholder: "name", name: "attr-name" }),
    h("select", { name: "attr-type" }, ["String", "Number", "Binary"].map((t) => h("option", {}, t))),
    h("input", { placeholder: "value", name: "attr-value" })));
  container.append(rows, h("button.plain", { type: "button", onclick: add }, "+ Attribute"));
  return () => [...rows.querySelectorAll(".attr")]
    .map((r) => ({ name: r.querySelector("[name=attr-name]").value.trim(), type: r.querySelector("[name=attr-type]").value, value: r.querySelector("[name=attr-value]").value }))
    .filter((a) => a.name);
}

// -- charts -----------------------------------------------------------------------------------

function drawChart(canvas, series) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 500, height = canvas.clientHeight || 170;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const values = series.flatMap((s) => s.points);
  const top = Math.max(1, ...values);
  g.strokeStyle = "#d9dee8"; g.fillStyle = "#64708a"; g.font = "11px system-ui";
  for (let i = 0; i <= 4; i++) {
    const y = 6 + (height - 20) * i / 4;
    g.beginPath(); g.moveTo(34, y); g.lineTo(width, y); g.stroke();
    g.fillText(String(+(top * (4 - i) / 4).toPrecision(3)), 0, y + 4);
  }
  for (const s of series) {
    g.strokeStyle = s.color; g.lineWidth = 2; g.beginPath();
    const offset = HISTORY - s.points.length; // the newest point sits at the right edge
    s.points.forEach((v, i) => {
      const x = 34 + (width - 36) * (offset + i) / Math.max(HISTORY - 1, 1);
      const y = 6 + (height - 20) * (1 - v / top);
      if (i) g.lineTo(x, y); else g.moveTo(x, y);
    });
    g.stroke();
  }
}

function legend(series) {
  return h("div.legend", {}, series.map((s) => h("span", {}, h("i", { style: "background:" + s.color }), s.label)));
}

// -- views ------------------------------------------------------------------------------------

const views = {};
const rateMemory = new Map(); // queue arn -> last counters seen, for rates on the list page

views.queues = async (main, params, gen) => {
  const search = h("input", { placeholder: "Search queues", value: params.search || "", name: "search" });
  const create = h("input", { placeholder: "new queue name", name: "new-queue" });
  const body = h("div");
  const go = (page) => navigate("queues", { search: search.value.trim(), page });
  main.append(h("h1", {}, "Queues"),
    h("div.toolbar", {},
      h("form", { onsubmit: (e) => { e.preventDefault(); go(1); } }, search, " ", h("button.plain", {}, "Search")),
      h("span.grow"),
      h("form", { onsubmit: async (e) => {
        e.preventDefault();
        const name = create.value.trim();
        const done = await act(e.submitter, () => api("queues", Object.assign(where(), {
          name, attributes: name.endsWith(".fifo") ? { FifoQueue: "true" } : {},
        })));
        if (done) { create.value = ""; refresh(); }
      } }, create, " ", h("button", {}, "Create queue"))),
    body);
  const refresh = async () => {
    let doc;
    try {
      doc = await api("queues?" + qs({ search: params.search, page: params.page }));
    } catch (err) {
      if (gen !== generation) return;
      body.replaceChildren(); showError(err.message); return;
    }
    if (gen !== generation) return;
    clearError();
    const now = performance.now();
    const rows = doc.queues.map((q) => {
      const last = rateMemory.get(q.arn);
      const span = last ? (now - last.at) / 1000 : 0;
      const r = (field) => (last && span > 0 ? Math.max(0, q[field] - last[field]) / span : null);
      const rates = [r("sent"), r("received"), r("deleted")];
      rateMemory.set(q.arn, { at: now, sent: q.sent, received: q.received, deleted: q.deleted });
      return h("tr", { "data-queue": q.name },
        h("td", {}, h("a", { href: "#/queue/" + encodeURIComponent(q.arn) }, q.name)),
        h("td", {}, q.fifo ? "FIFO" : "Standard"),
        h("td.num", {}, q.visible), h("td.num", {}, q.in_flight), h("td.num", {}, q.delayed),
        h("td.num", {}, age(q.oldest_age_s)),
        h("td", {}, q.dead_letter_arn ? h("a", { href: "#/queue/" + encodeURIComponent(q.dead_letter_arn) }, nameOf(q.dead_letter_arn)) : "–"),
        rates.map((x) => h("td.num", {}, rate(x))),
        h("td", {}, h("button.danger", { onclick: async (e) => {
          if (!confirm(`Delete queue ${q.name}?`)) return;
          if (await act(e.target, () => api("queue/delete", { arn: q.arn }))) refresh();
        } }, "Delete")));
    });
    body.replaceChildren(
      table(["Name", "Type", "#Available", "#In flight", "#Delayed", "#Oldest", "Dead-letter queue", "#Sent/s", "#Received/s", "#Deleted/s", ""],
        rows, params.search ? "No queue matches." : "No queues yet."),
      pager(doc, go));
  };
  await refresh();
  return refresh;
};

views.queue = async (main, params, gen) => {
  const arn = params.id;
  const cards = h("div.cards");
  const rates = h("canvas", { id: "rates-chart" });
  const depth = h("canvas", { id: "depth-chart" });
  const rateSeries = [
    { label: "sent/s", color: "#2457c5", key: "sent", points: [] },
    { label: "received/s", color: "#1d9a4b", key: "received", points: [] },
    { label: "deleted/s", color: "#d9822b", key: "deleted", points: [] },
  ];
  const depthSeries = [
    { label: "available", color: "#2457c5", key: "visible", points: [] },
    { label: "in flight", color: "#8e44ad", key: "in_flight", points: [] },
    { label: "delayed", color: "#999", key: "delayed", points: [] },
  ];
  const attrs = h("div"), tasks = h("div"), sources = h("span");
  const peekBox = h("div");
  const sendForm = h("form");
  const redriveDest = h("input", { placeholder: "destination ARN (default: each message's source)", size: 48, name: "destination" });
  const redriveRate = h("input", { placeholder: "msgs/s", size: 7, name: "rate" });
  let last = null;
  let fifo = false;

  const peek = async (button) => {
    const doc = await act(button, () => api("queue/peek?" + qs({ arn, limit: 20 })));
    if (!doc) { peekBox.replaceChildren(); return; }
    peekBox.replaceChildren(table(["Message id", "Body", "Attributes", "State", "#Receives", "Sent"],
      doc.messages.map((m) => h("tr.message", {},
        h("td", {}, h("pre", {}, m.message_id)), h("td", {}, h("pre", {}, m.body)),
        h("td", {}, h("pre", {}, Object.entries(m.attributes).map(([k, v]) => `${k} (${v.DataType}) = ${v.StringValue ?? "[binary]"}`).join("\n"))),
        h("td", {}, h("span.tag", {}, m.state)), h("td.num", {}, m.receive_count), h("td", {}, when(m.sent_at)))),
      "The queue is empty."));
  };

  const body = h("textarea", { name: "body", placeholder: "message body" });
  const group = h("input", { name: "group", placeholder: "message group id (FIFO)" });
  const dedup = h("input", { name: "dedup", placeholder: "deduplication id (FIFO)" });
  const delay = h("input", { name: "delay", placeholder: "delay s", size: 6 });
  const extra = h("div");
  const readAttributes = attributeRows(extra);
  const sendResult = h("div.result.note");
  sendForm.append(body, extra, h("div.row", {}, group, dedup, delay, h("button", { name: "send" }, "Send message")), sendResult);
  sendForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = await act(e.submitter, () => api("queue/send", {
      arn, body: body.value, attributes: readAttributes(), group_id: group.value.trim(),
      dedup_id: dedup.value.trim(), delay_seconds: delay.value.trim(),
    }));
    sendResult.textContent = out ? "Sent message " + out.MessageId : "";
    if (out) refresh();
  });

  main.append(h("h1", {}, nameOf(arn)), h("p.note", {}, arn, " · dead-letter source of: ", sources), cards,
    h("div.grid2", {},
      h("section", {}, h("h2", {}, "Rates"), rates, legend(rateSeries)),
      h("section", {}, h("h2", {}, "Depth"), depth, legend(depthSeries))),
    h("div.grid2", {},
      h("section", {}, h("h2", {}, "Send a message"), sendForm),
      h("section", {}, h("h2", {}, "Dead-letter redrive"),
        h("div.row", {}, redriveDest, redriveRate,
          h("button", { name: "redrive", onclick: async (e) => {
            const out = await act(e.target, () => api("queue/redrive", { arn, destination_arn: redriveDest.value.trim(), rate: redriveRate.value.trim() }));
            if (out) refresh();
          } }, "Start redrive")),
        tasks)),
    h("section", {}, h("div.toolbar", {}, h("h2", {}, "Messages"), h("span.grow"),
      h("button.plain", { name: "peek", onclick: (e) => peek(e.target) }, "Peek"),
      h("button.danger", { name: "purge", onclick: async (e) => {
        if (!confirm("Purge every message of this queue?")) return;
        if (await act(e.target, () => api("queue/purge", { arn }))) { await peek(null); refresh(); }
      } }, "Purge")),
      h("p.note", {}, "Peeking does not receive: receive counts and visibility stay as they are."), peekBox),
    h("section", {}, h("h2", {}, "Attributes"), attrs));

  const refresh = async () => {
    let doc;
    try {
      doc = await api("queue?" + qs({ arn }));
    } catch (err) {
      if (gen !== generation) return;
      main.replaceChildren(h("h1", {}, nameOf(arn))); showError(err.message); return;
    }
    if (gen !== generation) return;
    clearError();
    const s = doc.stats;
    fifo = s.fifo;
    group.hidden = dedup.hidden = !fifo;
    const now = performance.now();
    const span = last ? (now - last.at) / 1000 : 0;
    for (const series of rateSeries) {
      series.points.push(last && span > 0 ? Math.max(0, s[series.key] - last[series.key]) / span : 0);
      if (series.points.length > HISTORY) series.points.shift();
    }
    for (const series of depthSeries) {
      series.points.push(s[series.key]);
      if (series.points.length > HISTORY) series.points.shift();
    }
    last = Object.assign({ at: now }, s);
    drawChart(rates, rateSeries);
    drawChart(depth, depthSeries);
    const card = (label, value) => h("div.card", {}, h("div.label", {}, label), h("div.value", {}, value));
    cards.replaceChildren(card("Type", s.fifo ? "FIFO" : "Standard"), card("Available", s.visible), card("In flight", s.in_flight),
      card("Delayed", s.delayed), card("Oldest message", age(s.oldest_age_s)), card("Sent", s.sent),
      card("Received", s.received), card("Deleted", s.deleted), card("Moved to DLQ", s.moved_to_dlq));
    sources.replaceChildren(...(doc.dead_letter_sources.length ? doc.dead_letter_sources.map((n, i) => [i ? ", " : "", n]).flat() : ["none"]));
    attrs.replaceChildren(table(["Attribute", "Value"],
      Object.keys(doc.attributes).sort().map((k) => {
        let value = doc.attributes[k];
        if (k === "RedrivePolicy") {
          try { const dlq = JSON.parse(value).deadLetterTargetArn; value = h("span", {}, h("a", { href: "#/queue/" + encodeURIComponent(dlq) }, nameOf(dlq)), " ", value); } catch (err) { /* shown as it is */ }
        }
        return h("tr", {}, h("td", {}, k), h("td", {}, h("pre", {}, value)));
      })));
    tasks.replaceChildren(table(["Status", "#Moved", "#To move", "Started", ""],
      doc.move_tasks.map((t) => h("tr.task", {},
        h("td", {}, h("span.tag." + t.Status, {}, t.Status), t.FailureReason ? " " + t.FailureReason : ""),
        h("td.num", {}, t.ApproximateNumberOfMessagesMoved), h("td.num", {}, t.ApproximateNumberOfMessagesToMove ?? "–"),
        h("td", {}, when(t.StartedTimestamp)),
        h("td", {}, t.Status === "RUNNING" ? h("button.danger", { onclick: async (e) => {
          if (await act(e.target, () => api("queue/redrive/cancel", Object.assign(where(), { region: s.region, account: s.account, task_handle: t.TaskHandle })))) refresh();
        } }, "Cancel") : ""))),
      "No redrive has run from this queue."));
  };
  await refresh();
  return refresh;
};

views.topics = async (main, params, gen) => {
  const search = h("input", { placeholder: "Search topics", value: params.search || "", name: "search" });
  const create = h("input", { placeholder: "new topic name", name: "new-topic" });
  const body = h("div");
  const go = (page) => navigate("topics", { search: search.value.trim(), page });
  main.append(h("h1", {}, "Topics"),
    h("div.toolbar", {},
      h("form", { onsubmit: (e) => { e.preventDefault(); go(1); } }, search, " ", h("button.plain", {}, "Search")),
      h("span.grow"),
      h("form", { onsubmit: async (e) => {
        e.preventDefault();
        if (await act(e.submitter, () => api("topics", Object.assign(where(), { name: create.value.trim() })))) { create.value = ""; refresh(); }
      } }, create, " ", h("button", {}, "Create topic"))),
    body);
  const refresh = async () => {
    let doc;
    try {
      doc = await api("topics?" + qs({ search: params.search, page: params.page }));
    } catch (err) {
      if (gen !== generation) return;
      body.replaceChildren(); showError(err.message); return;
    }
    if (gen !== generation) return;
    clearError();
    body.replaceChildren(table(["Name", "Type", "#Confirmed", "#Pending", ""],
      doc.topics.map((t) => h("tr", { "data-topic": t.name },
        h("td", {}, h("a", { href: "#/topic/" + encodeURIComponent(t.arn) }, t.name)), h("td", {}, t.fifo ? "FIFO" : "Standard"),
        h("td.num", {}, t.confirmed), h("td.num", {}, t.pending),
        h("td", {}, h("button.danger", { onclick: async (e) => {
          if (!confirm(`Delete topic ${t.name}?`)) return;
          if (await act(e.target, () => api("topic/delete", { arn: t.arn }))) refresh();
        } }, "Delete")))),
      params.search ? "No topic matches." : "No topics yet."), pager(doc, go));
  };
  await refresh();
  return refresh;
};

views.topic = async (main, params, gen) => {
  const arn = params.id;
  const subs = h("div"), failures = h("div"), attrs = h("div");
  const message = h("textarea", { name: "message", placeholder: "message" });
  const subject = h("input", { name: "subject", placeholder: "subject (optional)" });
  const group = h("input", { name: "group", placeholder: "message group id (FIFO)" });
  const extra = h("div");
  const readAttributes = attributeRows(extra);
  const result = h("div.result.note");
  main.append(h("h1", {}, nameOf(arn)), h("p.note", {}, arn),
    h("section", {}, h("h2", {}, "Subscriptions"), subs),
    h("div.grid2", {},
      h("section", {}, h("h2", {}, "Publish a message"),
        h("form", { onsubmit: async (e) => {
          e.preventDefault();
          const out = await act(e.submitter, () => api("topic/publish", { arn, message: message.value, subject: subject.value.trim(), group_id: group.value.trim(), attributes: readAttributes() }));
          result.textContent = out ? "Published message " + out.MessageId : "";
          if (out) refresh();
        } }, message, extra, h("div.row", {}, subject, group, h("button", { name: "publish" }, "Publish")), result)),
      h("section", {}, h("h2", {}, "Recent delivery failures"), failures)),
    h("section", {}, h("h2", {}, "Attributes"), attrs));
  const refresh = async () => {
    let doc;
    try {
      doc = await api("topic?" + qs({ arn }));
    } catch (err) {
      if (gen !== generation) return;
      main.replaceChildren(h("h1", {}, nameOf(arn))); showError(err.message); return;
    }
    if (gen !== generation) return;
    clearError();
    group.hidden = doc.attributes.FifoTopic !== "true";
    subs.replaceChildren(table(["Protocol", "Endpoint", "Status", "Filter policy", "Raw"],
      doc.subscriptions.map((s) => h("tr.subscription", {}, h("td", {}, s.protocol),
        h("td", {}, s.protocol === "sqs" ? h("a", { href: "#/queue/" + encodeURIComponent(s.endpoint) }, s.endpoint) : s.endpoint),
        h("td", {}, h("span.tag." + s.status, {}, s.status)), h("td", {}, h("pre", {}, s.filter_policy || "–")),
        h("td", {}, s.raw ? "yes" : "no"))),
      "No subscriptions."));
    failures.replaceChildren(table(["When", "Protocol", "Endpoint", "Reason"],
      doc.failures.map((f) => h("tr.failure", {}, h("td", {}, when(f.at)), h("td", {}, f.protocol), h("td", {}, f.endpoint), h("td", {}, f.reason))),
      "No delivery has failed since the server started."));
    attrs.replaceChildren(table(["Attribute", "Value"],
      Object.keys(doc.attributes).sort().map((k) => h("tr", {}, h("td", {}, k), h("td", {}, h("pre", {}, doc.attributes[k]))))));
  };
  await refresh();
  return refresh;
};

views.functions = async (main, params, gen) => {
  const search = h("input", { placeholder: "Search functions", value: params.search || "", name: "search" });
  const body = h("div");
  const go = (page) => navigate("functions", { search: search.value.trim(), page });
  main.append(h("h1", {}, "Functions"),
    h("div.toolbar", {}, h("form", { onsubmit: (e) => { e.preventDefault(); go(1); } }, search, " ", h("button.plain", {}, "Search"))),
    body);
  const refresh = async () => {
    let doc;
    try {
      doc = await api("functions?" + qs({ search: params.search, page: params.page }));
    } catch (err) {
      if (gen !== generation) return;
      body.replaceChildren(); showError(err.message); return;
    }
    if (gen !== generation) return;
    clearError();
    body.replaceChildren(table(["Name", "Runtime", "Handler", "#Memory MB", "#Timeout s", "State", "#Invocations", "#Errors", "#Throttles"],
      doc.functions.map((f) => h("tr", { "data-function": f.name },
        h("td", {}, h("a", { href: "#/function/" + encodeURIComponent(f.name) }, f.name)), h("td", {}, f.runtime || "–"),
        h("td", {}, f.handler || "–"), h("td.num", {}, f.memory), h("td.num", {}, f.timeout), h("td", {}, h("span.tag", {}, f.state)),
        h("td.num", {}, f.invocations), h("td.num", {}, f.errors), h("td.num", {}, f.throttles))),
      params.search ? "No function matches." : "No functions yet."), pager(doc, go));
  };
  await refresh();
  return refresh;
};

views.function = async (main, params, gen) => {
  const name = params.id;
  const config = h("div"), recent = h("div"), mappings = h("div"), result = h("div.result"), logs = h("div");
  const payload = h("textarea", { name: "payload", value: "{}" });
  main.append(h("h1", {}, name),
    h("div.grid2", {},
      h("section", {}, h("h2", {}, "Invoke"), payload,
        h("div.row", {}, h("button", { name: "invoke", onclick: async (e) => {
          const out = await act(e.target, () => api("function/invoke", Object.assign(where(), { name, payload: payload.value })));
          if (!out) { result.replaceChildren(); return; }
          result.replaceChildren(
            h("div.row", {}, h("span.tag." + (out.function_error ? "bad" : "ok"), {}, out.function_error ? "Error: " + out.function_error : "Succeeded"),
              h("span.note", {}, `status ${out.status}, version ${out.executed_version}`)),
            h("h2", {}, "Result"), h("pre.box.payload", {}, out.payload),
            h("h2", {}, "Log tail"), h("pre.box.log", {}, out.log || "(no output)"));
          refresh();
        } }, "Invoke")), result),
      h("section", {}, h("h2", {}, "Recent invocations"), recent)),
    h("section", {}, h("h2", {}, "Latest log events"), logs),
    h("section", {}, h("h2", {}, "Event source mappings"), mappings),
    h("section", {}, h("h2", {}, "Configuration"), config));
  const refresh = async () => {
    let doc;
    try {
      doc = await api("function?" + qs({ name }));
    } catch (err) {
      if (gen !== generation) return;
      main.replaceChildren(h("h1", {}, name)); showError(err.message); return;
    }
    if (gen !== generation) return;
    clearError();
    const c = doc.configuration;
    const shown = ["FunctionArn", "Runtime", "Handler", "MemorySize", "Timeout", "State", "LastUpdateStatus", "Version", "LastModified", "CodeSize", "Architectures", "PackageType", "Environment"];
    config.replaceChildren(table(["Setting", "Value"], shown.filter((k) => c[k] !== undefined)
      .map((k) => h("tr", {}, h("td", {}, k), h("td", {}, h("pre", {}, typeof c[k] === "object" ? JSON.stringify(c[k]) : String(c[k])))))));
    recent.replaceChildren(table(["Finished", "Version", "#Duration ms", "Result"],
      doc.recent.map((r) => h("tr.invocation", {}, h("td", {}, when(r.at)), h("td", {}, r.version), h("td.num", {}, r.duration_ms.toFixed(1)),
        h("td", {}, r.error ? h("span.tag.bad", {}, r.error_type || r.error) : h("span.tag.ok", {}, "ok")))),
      "Not invoked since the server started."));
    const l = doc.logs;
    logs.replaceChildren(l.unavailable ? h("p.note", {}, "Not available: " + l.unavailable) :
      !l.events.length ? h("p.note", {}, "No log events yet in " + l.group + ".") :
        h("div", {}, h("p.note", {}, l.group + " · " + l.stream),
          h("pre.box.events", {}, l.events.map((e) => when(e.at) + "  " + e.message.replace(/\n$/, "")).join("\n"))));
    const m = doc.event_source_mappings;
    mappings.replaceChildren(m.unavailable ? h("p.note", {}, "Not available: " + m.unavailable) :
      table(["UUID", "Source", "State", "#Batch size", "Last result"],
        m.items.map((x) => h("tr", {}, h("td", {}, x.UUID), h("td", {}, x.EventSourceArn),
          h("td", {}, h("span.tag." + x.State, {}, x.State)), h("td.num", {}, x.BatchSize), h("td", {}, x.LastProcessingResult || "–"))),
        "No event source mappings."));
  };
  await refresh();
  return refresh;
};

// -- routing ----------------------------------------------------------------------------------

function parseHash() {
  const [path, query] = (location.hash.replace(/^#\/?/, "") || "queues").split("?");
  const [view, ...rest] = path.split("/");
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  if (rest.length) params.id = decodeURIComponent(rest.join("/"));
  return { view, params };
}

function navigate(view, params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== "" && v !== null)).toString();
  location.hash = "#/" + view + (query ? "?" + query : "");
}

async function render() {
  const gen = ++generation;
  if (timer) { clearInterval(timer); timer = null; }
  clearError();
  const { view, params } = parseHash();
  const main = document.getElementById("main");
  main.replaceChildren();
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", view.startsWith(a.dataset.nav));
  const show = views[view];
  if (!show) { showError("There is no page called " + view + "."); return; }
  const refresh = await show(main, params, gen);
  if (gen === generation && refresh) timer = setInterval(refresh, POLL_MS);
}

window.addEventListener("hashchange", render);
document.getElementById("where").addEventListener("change", render);
document.getElementById("where").addEventListener("submit", (e) => { e.preventDefault(); render(); });
render();
