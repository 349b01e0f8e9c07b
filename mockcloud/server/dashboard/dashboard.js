// mockcloud's dashboard: a client of the admin API (/_mockcloud/...), like any other.
//
// Safety: every value is rendered with DOM text nodes and attributes (el() below), never parsed as markup,
// so a path, header or body that carries HTML shows as text. Calls are same-origin, send
// Content-Type: application/json, and carry the admin token (asked for when the server wants one, kept in
// this tab's sessionStorage) in a header, never in a URL.
//
// Live updates: one round of polling at a time, the next one a second after the last ended (slower when
// the server is slow, backing off when it fails), and none while the tab is hidden.
"use strict";

(() => {
  const API = "/_mockcloud/";
  const TICK_MS = 1000;
  const MAX_BACKOFF_MS = 30000;
  const CALL_TIMEOUT_MS = 10000;
  const MAX_ROWS = 500; // request rows rendered, newest first
  const MAX_KEPT = 2000; // request summaries kept in the page
  const INVENTORY_LIMIT = 200; // entries per service
  const TOKEN_KEY = "mockcloud.adminToken";
  const PANELS = ["requests", "tokens", "clock", "faults", "services"];
  const STATES = new Set(["active", "expired", "used", "revoked", "replaced"]);

  const state = {
    panel: "requests",
    records: [], // request summaries, oldest first
    last: 0, // the newest request number seen
    selected: null, // the request whose detail is open
    operations: {}, // service -> {protocol, family, hosts, operations}
    servicesLoaded: false,
    clock: null, // {epoch, frozen, at}: the mock time and when (performance.now()) it was read
    inventory: null,
    failures: 0,
    timer: 0,
    running: false,
    soon: false,
    needToken: false,
    ticks: 0, // rounds of polling done (for tests and the curious)
  };
  window.mockcloudDashboard = state;

  const $ = (id) => document.getElementById(id);

  /** An element whose children are nodes or strings (strings become text nodes: never markup). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  // ---- the admin API ----------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["Content-Type"] = "application/json";
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), CALL_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
        redirect: "error",
        signal: controller.signal,
      });
    } catch (error) {
      const why = error.name === "AbortError" ? `no answer within ${CALL_TIMEOUT_MS / 1000} s` : "the server cannot be reached";
      throw new ApiError(0, "NetworkError", why);
    } finally {
      clearTimeout(timer);
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (response.status === 401) {
      askForToken(token ? "The server refused that token." : "");
      throw new ApiError(401, "Unauthorized", "the admin API wants its token");
    }
    if (!response.ok) {
      throw new ApiError(response.status, (payload && payload.error) || "Error", (payload && payload.message) || response.statusText);
    }
    return payload;
  }

  function askForToken(message) {
    state.needToken = true;
    setStatus("error", "waiting for the admin token");
    $("token-error").textContent = message;
    const dialog = $("token-dialog");
    if (!dialog.open) dialog.showModal();
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token-input").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("token-input").value = "";
    $("token-dialog").close();
    state.needToken = false;
    state.failures = 0;
    schedule(0);
  });

  // ---- polling ------------------------------------------------------------------------------
  function setStatus(kind, text) {
    const node = $("status");
    node.className = "status " + kind;
    node.textContent = text;
  }

  function backoff() {
    return Math.min(MAX_BACKOFF_MS, TICK_MS * 2 ** state.failures);
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = 0;
    if (state.running) {
      if (delay === 0) state.soon = true; // right after the round in flight
      return;
    }
    if (document.hidden || state.needToken) return;
    state.timer = setTimeout(tick, delay);
  }

  async function tick() {
    state.timer = 0;
    if (state.running || document.hidden || state.needToken) return;
    state.running = true;
    try {
      await refresh();
      state.failures = 0;
      // a round still in flight when the tab was hidden ends paused, not live
      if (document.hidden) setStatus("paused", "paused while the tab is hidden");
      else setStatus("live", "live");
    } catch (error) {
      state.failures += 1;
      if (error.status !== 401) setStatus("error", `${error.message}; retrying in ${Math.round(backoff() / 1000)} s`);
    } finally {
      state.running = false;
      state.ticks += 1;
      const soon = state.soon;
      state.soon = false;
      schedule(state.failures ? backoff() : soon ? 0 : TICK_MS);
    }
  }

  async function refresh() {
    const jobs = [loadClock()];
    if (!state.servicesLoaded) jobs.push(loadServices());
    if (state.panel === "requests") jobs.push(loadRequests());
    else if (state.panel === "tokens") jobs.push(loadInventory());
    else if (state.panel === "faults") jobs.push(loadFaults());
    await Promise.all(jobs);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearTimeout(state.timer);
      state.timer = 0;
      setStatus("paused", "paused while the tab is hidden");
    } else {
      schedule(0);
    }
  });

  // ---- time ---------------------------------------------------------------------------------
  function mockNow() {
    const clock = state.clock;
    if (!clock) return null;
    return clock.frozen ? clock.epoch : clock.epoch + (performance.now() - clock.at) / 1000;
  }

  function iso(epoch) {
    try {
      return new Date(epoch * 1000).toISOString();
    } catch {
      return `${epoch} s`; // beyond what a Date holds
    }
  }

  const dateTime = (epoch) => (epoch === null || epoch === undefined ? "" : iso(epoch).replace("T", " ").replace(/\.\d+Z$/, "Z"));
  const timeOfDay = (epoch) => iso(epoch).slice(11, 23);

  function duration(seconds) {
    let s = Math.floor(Math.abs(seconds));
    const days = Math.floor(s / 86400);
    s -= days * 86400;
    const hours = Math.floor(s / 3600);
    s -= hours * 3600;
    const minutes = Math.floor(s / 60);
    s -= minutes * 60;
    if (days) return `${days}d ${hours}h`;
    if (hours) return `${hours}h ${minutes}m`;
    if (minutes) return `${minutes}m ${s}s`;
    return `${s}s`;
  }

  function milliseconds(seconds) {
    const ms = seconds * 1000;
    return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
  }

  // ---- clock ----------------------------------------------------------------------------------
  function takeClock(answer) {
    state.clock = { epoch: answer.epoch, frozen: answer.frozen, at: performance.now() };
    renderClock();
  }

  async function loadClock() {
    takeClock(await api("GET", "clock"));
  }

  function renderClock() {
    const now = mockNow();
    if (now === null) return;
    $("clock-now").textContent = dateTime(now);
    $("clock-frozen").hidden = !state.clock.frozen;
    $("clock-big").textContent = dateTime(now);
    $("clock-state").textContent = state.clock.frozen ? "frozen: it moves only when advanced" : "running";
    $("freeze").disabled = state.clock.frozen;
    $("unfreeze").disabled = !state.clock.frozen;
  }

  async function moveClock(body) {
    try {
      takeClock(await api("POST", "clock", body));
      schedule(0); // the panels show what the move changed at once
    } catch (error) {
      setStatus("error", error.message);
    }
  }

  for (const button of document.querySelectorAll("[data-advance]")) {
    button.addEventListener("click", () => moveClock({ advance: Number(button.dataset.advance) }));
  }
  $("advance-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const seconds = Number($("advance-amount").value) * Number($("advance-unit").value);
    if (Number.isFinite(seconds)) moveClock({ advance: seconds });
  });
  $("freeze").addEventListener("click", () => moveClock({ freeze: null })); // where it stands
  $("unfreeze").addEventListener("click", () => moveClock({ unfreeze: true }));
  $("freeze-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("freeze-at").value;
    if (value) moveClock({ freeze: value }); // no zone: the server reads it as UTC
  });

  // ---- requests -----------------------------------------------------------------------------
  async function loadRequests() {
    const answer = await api("GET", `requests?since=${state.last}&limit=${MAX_ROWS}`);
    let changed = false;
    const kept = answer.first === null ? [] : state.records.filter((r) => r.seq >= answer.first);
    if (kept.length !== state.records.length) {
      state.records = kept; // cleared, reset, or dropped off the end of the log
      changed = true;
    }
    if (answer.requests.length) {
      state.records.push(...answer.requests);
      if (state.records.length > MAX_KEPT) state.records.splice(0, state.records.length - MAX_KEPT);
      changed = true;
    }
    state.last = Math.max(state.last, answer.last);
    if (changed) renderRequests();
  }

  function matches(record, service, status, text) {
    if (service && record.service !== service) return false;
    if (status === "error") {
      if (!(record.status >= 400 || record.error_code || record.fault)) return false;
    } else if (status === "fault") {
      if (!record.fault) return false;
    } else if (status === "not-emulated") {
      if (!notEmulated(record)) return false;
    } else if (status && String(Math.floor(record.status / 100)) !== status) {
      return false;
    }
    if (text) {
      const haystack = [record.service, record.operation, record.error_code, record.fault, record.client, record.method, record.url, record.status]
        .join(" ")
        .toLowerCase();
      if (!haystack.includes(text)) return false;
    }
    return true;
  }

  // an operation the service's model declares and mockcloud does not emulate: 501 NotImplemented
  function notEmulated(record) {
    return record.status === 501 && record.error_code === "NotImplemented";
  }

  function requestRow(record) {
    const total = record.latency === null ? null : record.latency + (record.delay || 0);
    const latencyTitle = record.delay ? `${milliseconds(record.latency || 0)} in the emulator + ${record.delay} s injected latency` : null;
    const error = record.error_code || (record.fault ? `network: ${record.fault}` : "");
    // on this server, the path is enough; in-process, the real host the client called matters
    const sameOrigin = record.url.startsWith(location.origin + "/");
    const request = `${record.method} ${sameOrigin ? record.url.slice(location.origin.length) : record.url}`;
    return el(
      "tr",
      {
        dataset: { seq: record.seq },
        class: [record.seq === state.selected ? "selected" : "", notEmulated(record) ? "not-emulated" : ""].join(" ").trim() || null,
        title: notEmulated(record) ? `mockcloud does not emulate ${record.service} ${record.operation}: see the Services panel` : null,
        tabindex: 0,
      },
      el("td", { title: dateTime(record.time) }, timeOfDay(record.time)),
      el("td", null, record.client || ""),
      el("td", null, record.service || ""),
      el("td", null, record.operation || ""),
      el("td", { class: "s" + Math.floor(record.status / 100) }, record.status ? String(record.status) : "none"),
      el("td", { class: "code", title: error || null }, error),
      el("td", { class: "num", title: latencyTitle }, total === null ? "" : milliseconds(total)),
      el("td", { class: "url", title: `${record.method} ${record.url}` }, request),
    );
  }

  function renderRequests() {
    const service = $("filter-service").value;
    const status = $("filter-status").value;
    const text = $("filter-text").value.trim().toLowerCase();
    const shown = [];
    for (let i = state.records.length - 1; i >= 0 && shown.length < MAX_ROWS; i -= 1) {
      if (matches(state.records[i], service, status, text)) shown.push(state.records[i]);
    }
    $("request-table").tBodies[0].replaceChildren(...shown.map(requestRow));
    $("requests-empty").hidden = state.records.length > 0;
    $("request-count").textContent = `${shown.length} shown of ${state.records.length}`;
  }

  for (const id of ["filter-service", "filter-status", "filter-text"]) {
    $(id).addEventListener("input", renderRequests);
    $(id).addEventListener("change", renderRequests);
  }
  $("request-filters").addEventListener("submit", (event) => event.preventDefault());

  function openRow(event) {
    const row = event.target.closest("tr");
    if (row && row.dataset.seq) showDetail(Number(row.dataset.seq));
  }
  const requestBody = $("request-table").tBodies[0];
  requestBody.addEventListener("click", openRow);
  requestBody.addEventListener("keydown", (event) => {
    if (event.key === "Enter") openRow(event);
  });

  function headerRows(table, headers) {
    table.replaceChildren(...headers.map(([name, value]) => el("tr", null, el("td", null, name), el("td", null, value))));
  }

  function showSide(prefix, side) {
    headerRows($(`detail-${prefix}-headers`), side.headers);
    $(`detail-${prefix}-note`).textContent = side.note || (side.body === "" ? "no body" : "");
    $(`detail-${prefix}-body`).textContent = side.body || "";
    $(`detail-${prefix}-body`).hidden = !side.body;
  }

  async function showDetail(seq) {
    state.selected = seq;
    for (const row of requestBody.rows) row.classList.toggle("selected", Number(row.dataset.seq) === seq);
    const aside = $("request-detail");
    aside.hidden = false;
    let detail;
    try {
      detail = await api("GET", `requests/${seq}`);
    } catch (error) {
      $("detail-title").textContent = `Request ${seq}`;
      $("detail-meta").textContent = error.status === 404 ? "The request log no longer keeps this request." : error.message;
      for (const prefix of ["request", "response"]) showSide(prefix, { headers: [], body: null, note: "" });
      return;
    }
    $("detail-title").textContent = `${detail.method} ${detail.url}`;
    const meta = [
      dateTime(detail.time),
      detail.client && `from ${detail.client}`,
      detail.service && `${detail.service} ${detail.operation || ""}`.trim(),
      detail.latency !== null && `${milliseconds(detail.latency)} in the emulator`,
      detail.delay && `+${detail.delay} s injected latency`,
      detail.fault && `network fault: ${detail.fault}`,
    ];
    $("detail-meta").textContent = meta.filter(Boolean).join(" · ");
    showSide("request", detail.request || { headers: [], body: null, note: "not recorded" });
    const response = detail.response || { status: detail.status, headers: [], body: null, note: "not recorded" };
    $("detail-response-title").textContent = `Response ${response.status || "(none: the connection failed)"}${detail.error_code ? " " + detail.error_code : ""}`;
    showSide("response", response);
  }

  $("clear-requests").addEventListener("click", async () => {
    try {
      await api("DELETE", "requests");
      state.records = [];
      renderRequests();
    } catch (error) {
      setStatus("error", error.message);
    }
  });

  // ---- tokens -------------------------------------------------------------------------------
  async function loadInventory() {
    state.inventory = await api("GET", `inventory?limit=${INVENTORY_LIMIT}`);
    renderInventory();
  }

  function shownState(entry, now) {
    const value = entry.state === "active" && entry.expires !== null && now >= entry.expires ? "expired" : entry.state;
    return STATES.has(value) ? value : "unknown";
  }

  function countdown(expires, now) {
    if (expires === null || expires === undefined) return "never";
    const left = expires - now;
    return left > 0 ? `in ${duration(left)}` : `${duration(left)} ago`;
  }

  function badge(value) {
    return el("span", { class: `badge state-${value}` }, value);
  }

  function renderInventory() {
    const inventory = state.inventory;
    if (!inventory) return;
    const now = mockNow() ?? inventory.now;
    const groups = new Map(Object.keys(inventory.counts || {}).map((name) => [name, []]));
    for (const entry of inventory.entries) {
      if (!groups.has(entry.service)) groups.set(entry.service, []);
      groups.get(entry.service).push(entry);
    }
    const sections = [];
    for (const [service, entries] of groups) {
      const total = (inventory.counts || {})[service] ?? entries.length;
      const states = new Map(entries.map((e) => [e.id, shownState(e, now)]));
      const rows = [];
      for (const entry of entries) {
        const value = shownState(entry, now);
        rows.push(
          el(
            "tr",
            { dataset: { id: entry.id, kind: entry.kind, state: value } },
            el("td", null, entry.kind.replaceAll("_", " ")),
            el("td", { class: "id" }, entry.id),
            el("td", null, entry.subject ?? ""),
            el("td", { title: dateTime(entry.issued) }, entry.issued === null ? "" : dateTime(entry.issued)),
            el("td", { title: dateTime(entry.expires), class: "expires" }, countdown(entry.expires, now)),
            el("td", null, badge(value)),
          ),
        );
        if (entry.chain && entry.chain.length) {
          const links = [];
          entry.chain.forEach((id, i) => {
            if (i) links.push(el("span", { class: "arrow" }, "→"));
            links.push(el("span", { class: `badge state-${states.get(id) || "unknown"}`, title: states.get(id) || "" }, id));
          });
          rows.push(el("tr", { class: "chain-row" }, el("td", null), el("td", { colspan: 5 }, el("div", { class: "chain" }, "chain:", ...links))));
        }
      }
      const summary = total > entries.length ? `showing the ${entries.length} issued last of ${total}` : `${entries.length} held`;
      sections.push(
        el(
          "div",
          { class: "service-group", dataset: { service } },
          el("h2", null, service, el("span", { class: "muted" }, summary)),
          entries.length
            ? el(
                "table",
                null,
                el("thead", null, el("tr", null, ...["Kind", "ID", "Subject", "Issued", "Expires", "State"].map((h) => el("th", null, h)))),
                el("tbody", null, ...rows),
              )
            : el("p", { class: "empty" }, "Nothing issued yet."),
        ),
      );
    }
    $("inventory").replaceChildren(...sections);
  }

  // ---- faults -------------------------------------------------------------------------------
  async function loadFaults() {
    renderFaults(await api("GET", "faults"));
  }

  function effect(rule) {
    if (rule.throttle) return "throttle";
    if (rule.network) return `network: ${rule.network}`;
    if (rule.error) return `error ${rule.error}${rule.status ? ` (${rule.status})` : ""}`;
    if (rule.status) return `status ${rule.status}`;
    return "latency";
  }

  function renderFaults(faults) {
    const text = (value) => (value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value));
    $("fault-table").tBodies[0].replaceChildren(
      ...faults.rules.map((rule) =>
        el(
          "tr",
          null,
          el("td", null, rule.service || "any"),
          el("td", null, rule.operation || "any"),
          el("td", null, effect(rule)),
          el("td", null, rule.latency === null ? "" : `${text(rule.latency)} s`),
          el("td", null, rule.count === null ? "always" : String(rule.count)),
          el("td", null, text(rule.probability)),
          el("td", null, text(rule.message)),
        ),
      ),
    );
    $("faults-empty").hidden = faults.rules.length > 0;
    $("limit-table").tBodies[0].replaceChildren(
      ...faults.rate_limits.map((limit) =>
        el("tr", null, el("td", null, limit.service), el("td", null, limit.operation || "any"), el("td", null, text(limit.rate)), el("td", null, text(limit.burst))),
      ),
    );
    $("limits-empty").hidden = faults.rate_limits.length > 0;
  }

  function showFaultFields() {
    const kind = $("fault-kind").value;
    for (const label of document.querySelectorAll("#fault-form [data-for]")) {
      label.hidden = !label.dataset.for.split(" ").includes(kind);
    }
  }
  $("fault-kind").addEventListener("change", showFaultFields);

  $("fault-service").addEventListener("change", () => {
    const found = state.operations[$("fault-service").value];
    $("fault-operations").replaceChildren(...(found ? found.operations : []).map((name) => el("option", { value: name })));
  });

  function faultBody() {
    const body = {};
    const value = (id) => $(id).value.trim();
    if (value("fault-service")) body.service = value("fault-service");
    if (value("fault-operation")) body.operation = value("fault-operation");
    const kind = $("fault-kind").value;
    if (kind === "throttle") body.throttle = true;
    if (kind === "error") body.error = value("fault-error");
    if ((kind === "error" || kind === "status") && value("fault-status")) body.status = Number(value("fault-status"));
    if (kind === "network") body.network = value("fault-network");
    if (value("fault-latency")) body.latency = Number(value("fault-latency"));
    if (value("fault-count")) body.count = Number(value("fault-count"));
    if (value("fault-probability") && Number(value("fault-probability")) !== 1) body.probability = Number(value("fault-probability"));
    if (kind !== "latency" && value("fault-message")) body.message = value("fault-message");
    return body;
  }

  $("fault-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = $("fault-result");
    try {
      renderFaults(await api("POST", "faults", faultBody()));
      result.className = "";
      result.textContent = "Added.";
    } catch (error) {
      result.className = "error";
      result.textContent = error.message;
    }
  });

  $("clear-faults").addEventListener("click", async () => {
    try {
      renderFaults(await api("DELETE", "faults"));
    } catch (error) {
      setStatus("error", error.message);
    }
  });

  // ---- services and credentials -----------------------------------------------------------
  function maskJwks(jwks) {
    // an HS256 key's "k" is the shared secret itself: the page shows it masked
    return { keys: jwks.keys.map((key) => (key.kty === "oct" && "k" in key ? { ...key, k: "********" } : key)) };
  }

  async function loadServices() {
    const [health, operations, credentials, jwks] = await Promise.all([
      api("GET", "health"),
      api("GET", "operations"),
      api("GET", "credentials"),
      api("GET", "jwks"),
    ]);
    state.operations = operations.services;
    state.servicesLoaded = true;
    $("version").textContent = health.version;
    const names = Object.keys(operations.services);
    for (const id of ["filter-service", "fault-service"]) {
      const select = $(id);
      const chosen = select.value;
      select.replaceChildren(el("option", { value: "" }, id === "fault-service" ? "any" : "all"), ...names.map((name) => el("option", { value: name }, name)));
      select.value = names.includes(chosen) ? chosen : "";
    }
    $("service-list").replaceChildren(
      ...names.map((name) => {
        const service = operations.services[name];
        return el(
          "div",
          { class: "card", dataset: { service: name } },
          el("h3", null, name),
          el("div", { class: "muted" }, `${service.protocol}${service.family ? ` (${service.family})` : ""}`),
          service.hosts.length ? el("div", null, "hosts: ", el("span", { class: "id" }, service.hosts.join(", "))) : null,
          el("div", { class: "ops" }, ...service.operations.map((op) => el("span", null, op))),
          service.model
            ? el(
                "div",
                { class: "muted" },
                `${service.model.operations - service.not_emulated.length} of ${service.model.operations} operations of ${service.model.title} emulated`,
              )
            : null,
          service.not_emulated.length
            ? el("div", { class: "ops-missing", title: "declared by the model, answered 501 NotImplemented" }, ...service.not_emulated.map((op) => el("span", null, op)))
            : null,
        );
      }),
    );
    $("aws-keys").tBodies[0].replaceChildren(
      ...credentials.aws.map((key) =>
        el(
          "tr",
          null,
          el("td", { class: "id" }, key.access_key_id),
          el("td", null, key.secret_access_key),
          el("td", null, key.account_id),
          el("td", null, key.session_token || ""),
          el("td", null, key.expires === null ? "never" : dateTime(key.expires)),
          el("td", { class: "id" }, key.arn),
        ),
      ),
    );
    $("alibaba-keys").tBodies[0].replaceChildren(
      ...credentials.alibaba.map((key) => el("tr", null, el("td", { class: "id" }, key.access_key_id), el("td", null, key.secret))),
    );
    $("jwks").textContent = JSON.stringify(maskJwks(jwks), null, 2);
    renderRequests();
  }

  $("reload-services").addEventListener("click", () => {
    state.servicesLoaded = false;
    schedule(0);
  });

  // ---- panels -------------------------------------------------------------------------------
  function setPanel(name) {
    if (!PANELS.includes(name)) name = "requests";
    state.panel = name;
    for (const tab of document.querySelectorAll("#tabs [data-panel]")) tab.setAttribute("aria-selected", String(tab.dataset.panel === name));
    for (const panel of document.querySelectorAll("main > .panel")) panel.hidden = panel.dataset.panel !== name;
    if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
    if (name === "services") state.servicesLoaded = false; // keys and JWKS may have changed
    if (name === "tokens") renderInventory();
    schedule(0);
  }

  for (const tab of document.querySelectorAll("#tabs [data-panel]")) tab.addEventListener("click", () => setPanel(tab.dataset.panel));
  window.addEventListener("hashchange", () => setPanel(location.hash.slice(1)));

  showFaultFields();
  setPanel(location.hash.slice(1) || "requests");
})();
