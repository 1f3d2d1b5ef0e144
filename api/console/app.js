// The investigator console: a household's two timelines, "why", a division's tables; no framework.
//
// Routes (in the hash, so a page can be bookmarked and shared without its token):
//   #/                                   find a household or open a division
//   #/find?q=…                           search results
//   #/household/ID?as_of=…&known_at=…    the picture, the card, why, the events
//   #/division/CODE?as_of=…&known_at=…   counts, subdivisions, roster, report, progress against targets,
//                                        as filed vs as known, findings

import { ApiError, downloadQuery, downloadTable, get, setToken, token } from "./api.js";
import { drawReportChart } from "./chart.js";
import { STATUSES, eventLabel, flowLabel, getLang, label, setLang, statusLabel, t, targetLabel } from "./i18n.js";
import { DAY, dayMs, drawPicture, isoDay, statusColor } from "./picture.js";

const main = document.getElementById("main");
let me = null;

// ------------------------------------------------------------------------------ DOM helpers

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

function problemText(error) {
  return error instanceof ApiError ? `${error.message}${error.rule ? ` (${error.rule})` : ""}` : String(error);
}

function num(value) { return value === null || value === undefined ? "" : value; }

/** A table; ``numeric`` marks right-aligned columns by index. */
function table(headers, rows, numeric = []) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x, i) => h("th", { class: numeric.includes(i) ? "num" : null }, x)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell, i) =>
      h("td", { class: numeric.includes(i) ? "num" : null }, cell instanceof Node ? cell : num(cell)))))));
}

/** A download button: ``download`` returns a promise of the file's name. */
function downloadButton(id, download) {
  const button = h("button", { type: "button", id, class: "download" }, t("download"));
  button.addEventListener("click", async () => {
    try { toast(`${t("downloaded")}: ${await download()}`); } catch (error) { toast(problemText(error)); }
  });
  return button;
}

/** A titled table with a download button (``download`` returns a promise). */
function tablePanel(title, id, headers, rows, download, numeric = []) {
  const button = h("button", { type: "button", id: `${id}-download`, class: "download" }, t("download"));
  button.addEventListener("click", async () => {
    try { toast(`${t("downloaded")}: ${await download()}`); } catch (error) { toast(problemText(error)); }
  });
  return h("div", { class: "panel", id },
    h("div", { class: "table-head" }, h("h2", {}, title), button),
    h("div", { class: "scroll" }, table(headers, rows, numeric)));
}

function plain(rows) {
  return rows.map((row) => row.map((cell) => (cell instanceof Node ? cell.textContent : cell ?? null)));
}

function routeParams() {
  const [path, query] = location.hash.slice(1).split("?");
  return { path: path || "/", params: Object.fromEntries(new URLSearchParams(query || "")) };
}

function setRoute(path, params, replace = false) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  const hash = `#${path}${query ? `?${query}` : ""}`;
  if (replace) history.replaceState(null, "", hash); else location.hash = hash;
}

function today() { return new Date().toISOString().slice(0, 10); }

// ------------------------------------------------------------------------------ chrome

function translateChrome() {
  document.documentElement.lang = getLang() === "en" ? "en" : "zh-CN";
  document.querySelectorAll("[data-t]").forEach((node) => { node.textContent = t(node.dataset.t); });
  document.querySelectorAll("[data-tp]").forEach((node) => { node.placeholder = t(node.dataset.tp); });
  document.getElementById("lang").textContent = getLang() === "en" ? "中文" : "EN";
  document.title = t("brand");
  const who = document.getElementById("who");
  who.textContent = me ? `${me.name} · ${label(me.role)} · ${t("scope")} ${me.division || t("everywhere")}` : "";
}

async function login(secret) {
  setToken(secret);
  try {
    me = await get("/v1/me");
  } catch (error) {
    setToken(null);
    me = null;
    throw error;
  }
}

function showLogin(message = "") {
  document.getElementById("login").hidden = false;
  document.getElementById("logout").hidden = true;
  main.replaceChildren();
  document.getElementById("login-error").textContent = message;
  document.getElementById("token").focus();
}

// ------------------------------------------------------------------------------ pages

async function route() {
  if (!token()) return showLogin();
  if (!me) {
    try { await login(token()); } catch (error) { return showLogin(t("bad_token")); }
  }
  document.getElementById("login").hidden = true;
  document.getElementById("logout").hidden = false;
  translateChrome();
  const { path, params } = routeParams();
  main.replaceChildren(h("p", { class: "muted" }, t("loading")));
  try {
    if (path.startsWith("/household/")) await householdPage(decodeURIComponent(path.slice(11)), params);
    else if (path.startsWith("/division/")) await divisionPage(path.slice(10), params);
    else if (path === "/find") await findPage(params.q || "");
    else homePage();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) { me = null; setToken(null); return showLogin(t("bad_token")); }
    main.replaceChildren(h("p", { class: "error", role: "alert" }, problemText(error)));
  }
}

function homePage() {
  const division = me?.division && me.division.length >= 6 ? me.division : "";
  main.replaceChildren(h("div", { class: "panel" }, h("h1", {}, t("brand")), h("p", {}, t("home_help")),
    division ? h("p", {}, h("a", { href: `#/division/${division}` }, `${t("division")} ${division}`)) : null));
}

async function findPage(q) {
  const found = await get("/v1/households", { q });
  const rows = found.households.map((x) => [
    h("a", { href: `#/household/${encodeURIComponent(x.household_id)}` }, x.household_id),
    statusLabel(x.status), h("a", { href: `#/division/${x.division_code}` }, x.division_code), x.persons,
    x.head_name, x.head_id_number, x.matched]);
  main.replaceChildren(h("div", { class: "panel" }, h("h1", {}, `${t("search_results")}: ${q}`),
    rows.length ? table([t("household"), t("status"), t("village"), t("persons"), t("head"), t("id_number"),
                         t("matched")], rows, [3]) : h("p", {}, t("no_results"))));
  if (found.households.length === 1) setRoute(`/household/${encodeURIComponent(found.households[0].household_id)}`, {});
}

// ----------------------------------------------------------------------- the household page

async function householdPage(id, params) {
  let audit = null;
  try {
    audit = await get(`/v1/households/${encodeURIComponent(id)}/audit`);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 403) throw error;
  }
  const events = audit ? audit.events : [];
  const recordings = [...new Set(events.map((e) => e.recorded_at))].sort((a, b) => Date.parse(a) - Date.parse(b));
  const timelines = audit
    ? await Promise.all(recordings.map((k) => get(`/v1/households/${encodeURIComponent(id)}/timeline`, { known_at: k })))
    : [await get(`/v1/households/${encodeURIComponent(id)}/timeline`)];

  // one scale for both axes: from the first year the household appears to a year past its last news
  const times = [...events.flatMap((e) => [dayMs(e.effective_date), Date.parse(e.recorded_at)]),
                 ...timelines.flat().map((i) => dayMs(i.from))];
  const firstMs = Math.min(...times), lastMs = Math.max(...times);
  const start = Date.UTC(new Date(firstMs).getUTCFullYear(), 0, 1);
  const end = Math.min(Date.UTC(new Date(lastMs).getUTCFullYear() + 2, 0, 1), dayMs(today()) + DAY);
  const layers = audit
    ? recordings.map((k, i) => ({ from: Date.parse(k), to: i + 1 < recordings.length ? Date.parse(recordings[i + 1]) : end,
                                  intervals: timelines[i] }))
    : [{ from: start, to: end, intervals: timelines[0] }];
  const byId = Object.fromEntries(events.map((e) => [e.event_id, e]));
  const marks = events.map((e) => {
    const target = byId[e.data?.target_event_id];
    return { event_id: e.event_id, effective: dayMs(e.effective_date), recorded: Date.parse(e.recorded_at),
             meta: Boolean(target), target_effective: target ? dayMs(target.effective_date) : null,
             label: eventLabel(e.type) };
  });

  // the page
  const asOfRange = h("input", { type: "range", id: "as-of-range", min: 0, max: Math.round((end - start) / DAY), step: 1 });
  const knownRange = h("input", { type: "range", id: "known-at-range", min: 0, max: Math.round((end - start) / DAY), step: 1 });
  const asOfDate = h("input", { type: "date", id: "as-of-date", min: isoDay(start), max: isoDay(end) });
  const knownDate = h("input", { type: "date", id: "known-at-date", min: isoDay(start), max: isoDay(end) });
  const nowButton = h("button", { type: "button", id: "known-now" }, t("now"));
  const pictureHost = h("div", { class: "picture", id: "picture" });
  const cardHost = h("div", { id: "card" });
  const whyHost = h("div", { id: "why-panel", class: "why", hidden: true });
  const whyButton = h("button", { type: "button", id: "why-button", class: "primary" }, t("why"));
  const eventsHost = h("ol", { class: "events", id: "events" });
  const legend = h("div", { class: "legend" }, STATUSES.map((s) =>
    h("span", {}, h("span", { class: "swatch", style: null, "data-swatch": s }), statusLabel(s))));
  const downloadEvents = h("button", { type: "button", id: "events-download" }, t("download"));

  main.replaceChildren(
    h("h1", {}, `${t("household")} ${id}`),
    h("div", { class: "hh-grid" },
      h("div", { class: "panel" },
        h("div", { class: "table-head" }, h("h2", {}, t("picture"))),
        audit ? null : h("p", { class: "muted small" }, t("need_auditor")),
        pictureHost, legend,
        h("div", { class: "sliders" },
          h("label", { for: "as-of-range" }, t("as_of")), asOfRange, asOfDate,
          h("label", { for: "known-at-range" }, t("known_at")), knownRange, h("span", {}, knownDate, " ", nowButton)),
        h("p", { class: "muted small" }, t("picture_help"))),
      h("div", {},
        h("div", { class: "panel" }, h("div", { class: "table-head" }, h("h2", {}, t("card")), whyButton), cardHost),
        whyHost)),
    h("div", { class: "panel" }, h("div", { class: "table-head" }, h("h2", {}, t("events")), downloadEvents), eventsHost));
  legend.querySelectorAll("[data-swatch]").forEach((node) => { node.style.background = statusColor(node.dataset.swatch); });

  const picture = drawPicture(pictureHost, { start, end, layers, events: marks }, (asOfMs, knownMs) => {
    asOfDay = Math.round((asOfMs - start) / DAY);
    knownDay = Math.round((knownMs - start) / DAY);
    changed();
  });

  const maxDay = Math.round((end - start) / DAY);
  const clampDay = (d) => Math.max(0, Math.min(maxDay, d));
  let asOfDay = clampDay(Math.round(((params.as_of ? dayMs(params.as_of) : Math.min(dayMs(today()), end - DAY)) - start) / DAY));
  let knownDay = params.known_at ? clampDay(Math.round((dayMs(params.known_at.slice(0, 10)) - start) / DAY)) : maxDay;
  let whyOpen = params.why === "1";
  let generation = 0;

  const asOfIso = () => isoDay(start + asOfDay * DAY);
  const knownIso = () => (knownDay >= maxDay ? null : isoDay(start + knownDay * DAY));
  const knownMs = () => (knownDay >= maxDay ? Number.POSITIVE_INFINITY : start + (knownDay + 1) * DAY - 1);

  function renderEvents(card) {
    const known = events.filter((e) => Date.parse(e.recorded_at) <= knownMs());
    const retracted = new Map(known.filter((e) => e.type === "EventRetracted").map((e) => [e.data.target_event_id, e]));
    const corrected = new Map();
    known.filter((e) => e.type === "EventCorrected" && !retracted.has(e.event_id))
      .forEach((e) => corrected.set(e.data.target_event_id, [...(corrected.get(e.data.target_event_id) || []), e]));
    const flagged = new Set((card?.findings || []).flatMap((f) => [f.decision_event_id, ...(f.shown_by || [])]));
    eventsHost.replaceChildren(...events.map((e) => {
      const late = Math.round((Date.parse(e.recorded_at) - dayMs(e.effective_date)) / DAY);
      const future = Date.parse(e.recorded_at) > knownMs();
      const target = byId[e.data?.target_event_id];
      const item = h("li", {
        "data-event-id": e.event_id,
        class: [future ? "future" : "", retracted.has(e.event_id) ? "retracted" : "", target ? "meta" : "",
                e.effective_date <= asOfIso() && !future ? "" : ""].join(" ").trim(),
        title: future ? t("not_yet_recorded") : null,
      },
        h("div", {},
          h("span", { class: "etype" }, eventLabel(e.type)), " ",
          h("span", { class: "muted small" }, `${t("effective")} ${e.effective_date} · ${t("recorded")} ${e.recorded_at.slice(0, 16).replace("T", " ")} · ${e.recorded_by.name} (${label(e.recorded_by.role)})`),
          late > 30 ? h("span", { class: "badge late" }, `${t("late")} ${late} ${t("days")}`) : null,
          corrected.has(e.event_id) ? h("span", { class: "badge fix" }, t("corrected_by")) : null,
          retracted.has(e.event_id) ? h("span", { class: "badge fix" }, t("retracted_by")) : null,
          flagged.has(e.event_id) ? h("span", { class: "badge finding" }, t("finding")) : null),
        target ? h("div", { class: "small" }, `${e.type === "EventRetracted" ? t("retracts") : t("corrects")} → `,
          h("a", { href: `#event-${target.event_id}`, "data-target": target.event_id }, `${eventLabel(target.type)} ${target.effective_date}`),
          e.data.changes ? ` ${JSON.stringify(e.data.changes)}` : "") : null,
        e.reason ? h("div", { class: "small" }, e.reason) : null,
        e.evidence?.length ? h("div", { class: "small muted" }, `${t("evidence")}: ${e.evidence.join(", ")}`) : null);
      item.addEventListener("click", (event) => {
        const link = event.target.closest("a[data-target]");
        if (link) {
          event.preventDefault();
          const li = eventsHost.querySelector(`[data-event-id="${link.dataset.target}"]`);
          li?.scrollIntoView({ block: "nearest" });
          li?.classList.add("flash");
          setTimeout(() => li?.classList.remove("flash"), 1500);
          return;
        }
        // replay: the register as it stood just after this recording, on the day it took effect
        asOfDay = clampDay(Math.round((dayMs(e.effective_date) - start) / DAY));
        knownDay = clampDay(Math.floor((Date.parse(e.recorded_at) - start) / DAY) + 1);
        changed();
      });
      return item;
    }));
  }

  downloadEvents.addEventListener("click", async () => {
    const rows = events.map((e) => [e.event_id, e.type, eventLabel(e.type), e.effective_date, e.recorded_at,
      e.recorded_by.name, e.recorded_by.role, e.reason, (e.evidence || []).join(", "), e.data?.target_event_id || null]);
    try {
      toast(`${t("downloaded")}: ${await downloadTable(`${t("events")} ${id}`, `events-${id}`, { household_id: id },
        [{ title: t("events"), headers: ["事件编号", "类型代码", "类型", "生效日期", "录入时点", "录入人", "角色", "理由", "依据", "所涉事件"], rows }])}`);
    } catch (error) { toast(problemText(error)); }
  });

  async function changed() {
    const mine = ++generation;
    asOfRange.value = asOfDay; knownRange.value = knownDay;
    asOfDate.value = asOfIso(); knownDate.value = isoDay(start + Math.min(knownDay, maxDay) * DAY);
    nowButton.classList.toggle("primary", knownDay >= maxDay);
    picture.update(start + asOfDay * DAY, knownDay >= maxDay ? end : start + knownDay * DAY + DAY / 2);
    setRoute(`/household/${encodeURIComponent(id)}`, { as_of: asOfIso(), known_at: knownIso(), why: whyOpen ? "1" : null }, true);
    const query = { as_of: asOfIso(), known_at: knownIso() };
    let card = null;
    try {
      card = await get(`/v1/households/${encodeURIComponent(id)}`, query);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
    }
    if (mine !== generation) return;
    renderCard(cardHost, card, query);
    renderEvents(card);
    if (whyOpen) await renderWhy(whyHost, id, query, () => mine !== generation);
  }

  asOfRange.addEventListener("input", () => { asOfDay = +asOfRange.value; changed(); });
  knownRange.addEventListener("input", () => { knownDay = +knownRange.value; changed(); });
  asOfDate.addEventListener("change", () => { if (asOfDate.value) { asOfDay = clampDay(Math.round((dayMs(asOfDate.value) - start) / DAY)); changed(); } });
  knownDate.addEventListener("change", () => { if (knownDate.value) { knownDay = clampDay(Math.round((dayMs(knownDate.value) - start) / DAY)); changed(); } });
  nowButton.addEventListener("click", () => { knownDay = maxDay; changed(); });
  whyButton.addEventListener("click", () => { whyOpen = !whyOpen; whyHost.hidden = !whyOpen; changed(); });
  whyHost.hidden = !whyOpen;
  await changed();
}

function renderCard(host, card, query) {
  if (!card) {
    host.replaceChildren(h("p", { class: "card-status", id: "card-status", "data-status": "" }, t("not_on_register")),
      h("p", { class: "muted small" }, `${t("as_of")} ${query.as_of} · ${t("known_at")} ${query.known_at || t("now")}`));
    return;
  }
  const memberHeaders = [t("name"), t("relation"), t("id_number")];
  const memberRows = card.members.map((m) => [m.name, label(m.relation), m.id_number]);
  const guarantees = Object.entries(card.guarantees || {}).map(([k, v]) => `${label(k)}${v ? "✓" : "✗"}`).join(" ");
  host.replaceChildren(
    h("p", {},
      h("span", { class: "swatch", "data-swatch": card.status }),
      h("span", { class: "card-status", id: "card-status", "data-status": card.status }, statusLabel(card.status)),
      card.flags?.at_risk ? h("span", { class: "badge late" }, t("at_risk")) : null,
      (card.findings || []).filter((f) => f.state === "open").length ? h("span", { class: "badge finding" }, t("finding")) : null),
    h("p", { class: "muted small", id: "card-query" },
      `${t("as_of")} ${card.as_of} · ${t("known_at")} ${card.known_at ? card.known_at.slice(0, 19).replace("T", " ") + " UTC" : t("now")}`),
    h("dl", { class: "kv" },
      h("dt", {}, t("village")), h("dd", {}, h("a", { href: `#/division/${card.division_code}` }, `${card.division_code} ${card.division_name || ""}`)),
      h("dt", {}, t("attribute")), h("dd", {}, label(card.attribute)),
      h("dt", {}, t("cause")), h("dd", {}, [card.main_cause, ...(card.secondary_causes || [])].map(label).join("、")),
      h("dt", {}, t("income")), h("dd", { id: "card-income" }, `${card.latest_income?.income_per_capita} (${card.latest_income?.year})`),
      h("dt", {}, t("guarantees")), h("dd", {}, guarantees),
      h("dt", {}, t("measures")), h("dd", {}, (card.measures || []).map((m) => `${label(m.category)}${m.completed_on ? "✓" : ""}`).join("、") || t("none")),
      h("dt", {}, t("helpers")), h("dd", {}, (card.helpers || []).map((x) => x.name).join("、") || t("none")),
      card.flags?.policy_continuation_until ? [h("dt", {}, t("continuation")), h("dd", {}, card.flags.policy_continuation_until)] : null,
      h("dt", {}, t("valid")), h("dd", {}, `${card.valid_from || ""} – ${card.valid_to || "…"}`),
      h("dt", {}, t("version")), h("dd", {}, card.version)),
    h("div", { class: "table-head" }, h("h3", {}, `${t("members")} (${card.members.length})`),
      downloadButton("members-download", () => downloadTable(`${t("members")} ${card.household_id}`,
        `members-${card.household_id}`, { household_id: card.household_id, as_of: card.as_of, known_at: card.known_at },
        [{ title: t("members"), headers: memberHeaders, rows: memberRows }]))),
    table(memberHeaders, memberRows));
  host.querySelectorAll("[data-swatch]").forEach((node) => { node.style.background = statusColor(node.dataset.swatch); });
}

async function renderWhy(host, id, query, stale) {
  let why = null;
  try {
    why = await get(`/v1/households/${encodeURIComponent(id)}/why`, query);
  } catch (error) {
    if (stale()) return;
    host.replaceChildren(h("div", { class: "panel" }, h("h2", {}, t("why_title")), h("p", {}, problemText(error))));
    return;
  }
  if (stale()) return;
  const d = why.decision;
  const who = (e) => `${e.recorded_by.name} (${label(e.recorded_by.role)})`;
  const show = (v) => {
    if (Array.isArray(v)) return v.map(label).join("、") || t("none");
    if (v && typeof v === "object") return Object.entries(v).map(([k, x]) => `${label(k)}${x ? "✓" : "✗"}`).join(" ");
    if (typeof v === "boolean") return v ? t("yes") : t("no");
    return v ?? "";
  };
  const values = (c) => Object.entries(c).filter(([k]) => !["rule", "label", "event_id", "passed", "setting", "source"].includes(k))
    .map(([k, v]) => `${t(`check_${k}`)}: ${show(v)}`).join("；");
  const sheets = [
    { title: t("checks"), headers: [t("rule"), t("passed"), t("value"), t("source")], rows: why.checks.map((c) => [
      c.label, c.passed ? t("ok") : t("failed"), values(c),
      c.source ? `${c.source.document || ""} (${c.source.jurisdiction || "全国"}, ${c.source.effective_date})` : ""]) },
    { title: t("facts"), headers: [t("facts"), t("used_for"), t("value"), t("recorded")], rows: why.facts.map((f) => [
      `${eventLabel(f.type)} ${f.effective_date}`, t(`check_${f.used_for}`),
      Object.entries(f.values).map(([k, v]) => `${t(`check_${k}`)}: ${v}`).join("；"), `${f.recorded_at.slice(0, 10)} ${who(f)}`]) },
    { title: t("changes"), headers: [t("changes"), t("recorded"), t("value"), t("reason")], rows: why.changes.map((c) => [
      `${eventLabel(c.type)} → ${eventLabel(c.target_type)} ${c.target_effective_date}`, `${c.recorded_at.slice(0, 10)} ${who(c)}`,
      c.changes ? JSON.stringify(c.changes) : "", c.reason || ""]) },
    { title: t("open_findings"), headers: [t("rule"), t("decision"), t("known_at")],
      rows: why.findings.map((f) => [f.rule, f.decision_type, f.known_since]) },
  ];
  const section = (sheet, decorate = (row) => row) => [h("h3", {}, sheet.title),
    sheet.rows.length ? table(sheet.headers, sheet.rows.map(decorate)) : h("p", { class: "muted" }, t("none"))];
  host.replaceChildren(h("div", { class: "panel" },
    h("div", { class: "table-head" }, h("h2", {}, `${t("why_title")}: ${statusLabel(why.status)}`),
      downloadButton("why-download", () => downloadTable(`${t("why_title")} ${id}`, `why-${id}`,
        { household_id: id, as_of: why.as_of, known_at: why.known_at },
        [{ title: t("decision"), headers: [t("decision"), t("effective"), t("recorded"), t("by"), t("status")],
           rows: why.chain.map((c) => [eventLabel(c.type), c.effective_date, c.recorded_at, who(c),
             c.from_status ? `${statusLabel(c.from_status)} → ${statusLabel(c.to_status)}` : statusLabel(c.to_status)]) },
         ...sheets]))),
    h("p", { class: "decision", id: "why-decision" },
      h("strong", {}, `${t("decision")}: ${eventLabel(d.type)}`),
      ` ${t("effective")} ${d.effective_date} · ${t("recorded")} ${d.recorded_at.slice(0, 10)} · ${who(d)}`,
      d.from_status ? ` · ${statusLabel(d.from_status)} → ${statusLabel(d.to_status)}` : ""),
    d.reason ? h("p", { class: "small" }, d.reason) : null,
    why.chain.length > 1 ? h("p", { class: "small" }, `${t("chain")}: `, why.chain.map((c) => `${eventLabel(c.type)} ${c.effective_date}（${t("recorded")} ${c.recorded_at.slice(0, 10)}）`).join(" ← ")) : null,
    section(sheets[0], (row) => [row[0], h("span", { class: row[1] === t("ok") ? "check-ok" : "check-no" }, row[1]), row[2], row[3]]),
    section(sheets[1]), section(sheets[2]), section(sheets[3])));
}

// ----------------------------------------------------------------------- the division page

function cycleStart(year) { return 2014 + Math.floor((year - 2014) / 3) * 3; }

async function divisionPage(code, params) {
  const asOf = params.as_of || today();
  const knownAt = params.known_at || null;
  const query = { as_of: asOf, known_at: knownAt };
  const levels = [6, 9, 12].filter((n) => n <= code.length);
  const names = {};
  await Promise.all(levels.map(async (n) => {
    try { names[code.slice(0, n)] = (await get(`/v1/divisions/${code.slice(0, n)}`)).name; } catch { /* not readable */ }
  }));
  const crumbs = h("div", { class: "crumbs", id: "crumbs" }, levels.map((n) =>
    h("a", { href: `#/division/${code.slice(0, n)}?${new URLSearchParams(Object.entries(query).filter(([, v]) => v))}`, "data-code": code.slice(0, n) },
      `${names[code.slice(0, n)] || ""} ${code.slice(0, n)}`)));

  const asOfInput = h("input", { type: "date", id: "division-as-of", value: asOf });
  const knownInput = h("input", { type: "date", id: "division-known-at", value: knownAt ? knownAt.slice(0, 10) : "" });
  const apply = h("button", { type: "button", class: "primary" }, "OK");
  apply.addEventListener("click", () => setRoute(`/division/${code}`, { as_of: asOfInput.value, known_at: knownInput.value }));

  const first = await get(`/v1/rosters/${code}`, { ...query, page: params.page || 1, page_size: 20 });
  const sections = [
    h("h1", { id: "division-title" }, `${names[code] || first.division_name || ""} ${code}`), crumbs,
    h("div", { class: "panel row" }, h("label", {}, `${t("as_of")} `, asOfInput), h("label", {}, `${t("known_at")} `, knownInput),
      apply, h("span", { class: "muted small" }, knownAt ? "" : `${t("known_at")}: ${t("now")}`)),
  ];
  main.replaceChildren(...sections);

  // counts and incidence
  const countRows = STATUSES.map((s) => [statusLabel(s), first.counts[s]?.households ?? 0, first.counts[s]?.persons ?? 0]);
  countRows.push([t("total"), first.total.households, first.total.persons]);
  const two = h("div", { class: "two" },
    tablePanel(t("counts"), "counts", [t("status"), t("households"), t("persons")], countRows,
      () => downloadQuery(`/v1/rosters/${code}`, query, `roster-${code}.xlsx`), [1, 2]));
  main.append(two);
  try {
    const inc = await get(`/v1/divisions/${code}/incidence`, query);
    two.append(tablePanel(t("incidence"), "incidence", [t("incidence"), t("poor_persons"), t("population")],
      [[inc.incidence === null ? "" : `${(inc.incidence * 100).toFixed(3)}%`, inc.poor_persons, inc.population]],
      () => downloadQuery(`/v1/divisions/${code}/incidence`, query, `incidence-${code}.xlsx`), [1, 2]));
  } catch (error) { two.append(h("div", { class: "panel" }, h("h2", {}, t("incidence")), h("p", { class: "muted" }, problemText(error)))); }

  // subdivisions: counts by status, from every household of the roster
  if (code.length < 12) {
    const childLength = code.length === 6 ? 9 : 12;
    let rows = [];
    for (let page = 1; ; page++) {
      const chunk = await get(`/v1/rosters/${code}`, { ...query, page, page_size: 500 });
      rows = rows.concat(chunk.rows);
      if (page >= chunk.pages) break;
    }
    const groups = new Map();
    for (const row of rows) {
      const child = row.division_code.slice(0, childLength);
      const counts = groups.get(child) || Object.fromEntries(STATUSES.map((s) => [s, 0]));
      counts[row.status] += 1;
      groups.set(child, counts);
    }
    const childCodes = [...groups.keys()].sort();
    await Promise.all(childCodes.map(async (c) => {
      try { names[c] = (await get(`/v1/divisions/${c}`)).name; } catch { /* not readable */ }
    }));
    const headers = [t("division"), ...STATUSES.map(statusLabel), t("total")];
    const childRows = childCodes.map((c) => [
      h("a", { href: `#/division/${c}?${new URLSearchParams(Object.entries(query).filter(([, v]) => v))}`, "data-child": c }, `${names[c] || ""} ${c}`),
      ...STATUSES.map((s) => groups.get(c)[s]), STATUSES.reduce((n, s) => n + groups.get(c)[s], 0)]);
    main.append(tablePanel(t("children"), "children", headers, childRows,
      () => downloadTable(`${t("children")} ${code}`, `children-${code}-${asOf}`, { division_code: code, ...query },
        [{ title: t("children"), headers, rows: plain(childRows) }]), headers.map((_, i) => i).slice(1)));
  }

  // the roster, a page at a time
  const rosterHost = h("div", {});
  main.append(rosterHost);
  const showRoster = (data) => {
    const headers = [t("household"), t("status"), t("village"), t("attribute"), t("cause"), t("persons"), t("head"), t("since")];
    const rows = data.rows.map((r) => [h("a", { href: `#/household/${encodeURIComponent(r.household_id)}` }, r.household_id),
      statusLabel(r.status), `${r.division_name || ""} ${r.division_code}`, label(r.attribute), label(r.main_cause), r.persons,
      r.head_name, r.since]);
    const panel = tablePanel(`${t("roster")} (${data.rows_total})`, "roster", headers, rows,
      () => downloadQuery(`/v1/rosters/${code}`, query, `roster-${code}.xlsx`), [5]);
    const prev = h("button", { type: "button", disabled: data.page <= 1 }, t("prev"));
    const next = h("button", { type: "button", disabled: data.page >= data.pages }, t("next"));
    prev.addEventListener("click", async () => showRoster(await get(`/v1/rosters/${code}`, { ...query, page: data.page - 1, page_size: 20 })));
    next.addEventListener("click", async () => showRoster(await get(`/v1/rosters/${code}`, { ...query, page: data.page + 1, page_size: 20 })));
    panel.append(h("div", { class: "pager" }, prev, `${data.page} / ${data.pages} ${t("page")}`, next));
    rosterHost.replaceChildren(panel);
  };
  showRoster(first);

  // the three-year report: both stocks and the flows, per year
  const year = +asOf.slice(0, 4);
  const cycle = cycleStart(year);
  const start = params.start || `${cycle}-01-01`;
  const endDay = params.end || [`${cycle + 2}-12-31`, today()].sort()[0];
  const years = [];
  for (let y = +start.slice(0, 4); y <= +endDay.slice(0, 4); y++) {
    const ys = y === +start.slice(0, 4) ? start : `${y}-01-01`;
    const ye = y === +endDay.slice(0, 4) ? endDay : `${y}-12-31`;
    const report = await get(`/v1/adjustments/${code}`, { start: ys, end: ye, known_at: knownAt });
    years.push({ year: y, opening: report.opening.households, inflows: report.inflows.total.households,
                 outflows: report.outflows.total.households, closing: report.closing.households,
                 exited_closing: report.exited_stock?.closing?.households ?? null, reconciles: report.reconciles });
  }
  const chartHost = h("div", { class: "chart" });
  const reportHeaders = [t("year"), t("opening"), t("inflows"), t("outflows"), t("closing"), t("exited_stock"), t("reconciles")];
  const reportRows = years.map((r) => [r.year, r.opening, r.inflows, r.outflows, r.closing, r.exited_closing, r.reconciles ? t("yes") : t("no")]);
  const reportPanel = tablePanel(`${t("report")} ${start} – ${endDay}`, "report", reportHeaders, reportRows,
    () => downloadQuery(`/v1/adjustments/${code}`, { start, end: endDay, known_at: knownAt }, `adjustments-${code}.xlsx`), [1, 2, 3, 4, 5]);
  reportPanel.insertBefore(h("p", { class: "muted small" }, t("report_help")), reportPanel.children[1]);
  reportPanel.insertBefore(chartHost, reportPanel.children[2]);
  main.append(reportPanel);
  drawReportChart(chartHost, years);

  // progress against the division's yearly targets (its own policy's), as the rosters show them
  try {
    const progress = await get(`/v1/divisions/${code}/progress`, query);
    if (!progress.years.length) {
      main.append(h("div", { class: "panel", id: "progress" }, h("div", { class: "table-head" }, h("h2", {}, t("progress"))),
        h("p", { class: "muted", id: "progress-none" }, t("no_targets"))));
    } else {
      const metLabel = (met) => (met === null ? t("not_over") : met ? t("met") : t("not_met"));
      const headers = [t("year"), t("target"), t("wanted"), t("actual"), t("met_header"), t("through")];
      const rows = progress.years.flatMap((y) => y.items.map((i) => [y.year, targetLabel(i.target, i.label), i.wanted,
        i.actual, metLabel(i.met), y.through]));
      const panel = tablePanel(t("progress"), "progress", headers, rows,
        () => downloadTable(`${t("progress")} ${code}`, `progress-${code}-${asOf}`, { division_code: code, ...query },
          [{ title: t("progress"), headers, rows: plain(rows) }]), [2, 3]);
      if (progress.source) {
        panel.insertBefore(h("p", { class: "muted small" }, `${t("source")}: ${progress.source.document || progress.source.jurisdiction}`),
          panel.children[1]);
      }
      main.append(panel);
    }
  } catch (error) { main.append(h("div", { class: "panel", id: "progress" }, h("h2", {}, t("progress")), h("p", { class: "muted" }, problemText(error)))); }

  // as filed at the cycle's close versus as now known
  try {
    const diff = await get(`/v1/adjustments/${code}/difference`, { start, end: endDay, known_at: knownAt });
    const flows = (report, prefix = [], out = new Map()) => {
      for (const [k, v] of Object.entries(report)) {
        if (!v || typeof v !== "object" || Array.isArray(v) || k.startsWith("by_")) continue;
        if ("households" in v && "persons" in v) out.set([...prefix, k].join("."), v);
        else flows(v, [...prefix, k], out);
      }
      return out;
    };
    const filed = flows(diff.filed), known = flows(diff.known);
    const keys = [...new Set([...filed.keys(), ...known.keys()])];
    const headers = ["", `${t("filed")} ${t("households")}`, `${t("filed")} ${t("persons")}`, `${t("known")} ${t("households")}`,
                     `${t("known")} ${t("persons")}`, t("difference")];
    const rows = keys.map((k) => {
      const a = filed.get(k) || { households: 0, persons: 0 }, b = known.get(k) || { households: 0, persons: 0 };
      return [k.split(".").map(flowLabel).join(" / "), a.households, a.persons, b.households, b.persons,
              b.households - a.households || ""];
    });
    main.append(tablePanel(`${t("filed_vs_known")} (${t("filed")} ${String(diff.filed_at).slice(0, 10)})`, "difference", headers, rows,
      () => downloadQuery(`/v1/adjustments/${code}/difference`, { start, end: endDay, known_at: knownAt }, `difference-${code}.xlsx`), [1, 2, 3, 4, 5]));
  } catch (error) { main.append(h("div", { class: "panel" }, h("h2", {}, t("filed_vs_known")), h("p", { class: "muted" }, problemText(error)))); }

  // findings, where the register keeps them
  try {
    const found = await get(`/v1/findings/${code}`, { ...query, state: "all", page_size: 200 });
    const headers = [t("household"), t("rule"), t("decision"), t("known_at"), t("state")];
    const rows = found.findings.map((f) => [h("a", { href: `#/household/${encodeURIComponent(f.household_id)}` }, f.household_id),
      f.rule, f.decision_type, f.known_since, f.state]);
    main.append(tablePanel(`${t("findings")} (${Object.entries(found.counts).map(([k, v]) => `${k} ${v}`).join(", ")})`, "findings",
      headers, rows, () => downloadQuery(`/v1/findings/${code}`, { ...query, state: "all" }, `findings-${code}.xlsx`)));
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 405)) {
      main.append(h("div", { class: "panel" }, h("h2", {}, t("findings")), h("p", { class: "muted" }, problemText(error))));
    }
  }
}

// ------------------------------------------------------------------------------ wiring

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const secret = document.getElementById("token").value.trim();
  try {
    await login(secret);
    document.getElementById("token").value = "";
    route();
  } catch (error) {
    showLogin(error instanceof ApiError && error.status === 401 ? t("bad_token") : problemText(error));
  }
});
document.getElementById("logout").addEventListener("click", () => { setToken(null); me = null; location.hash = "#/"; showLogin(); });
document.getElementById("lang").addEventListener("click", () => { setLang(getLang() === "en" ? "zh" : "en"); translateChrome(); route(); });
document.getElementById("find").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = document.getElementById("find-q").value.trim();
  if (q) setRoute("/find", { q });
});
document.getElementById("goto-division").addEventListener("submit", (event) => {
  event.preventDefault();
  const code = document.getElementById("division-q").value.trim();
  if (/^(\d{6}|\d{9}|\d{12})$/.test(code)) setRoute(`/division/${code}`, {});
});
window.addEventListener("hashchange", route);
translateChrome();
route();
