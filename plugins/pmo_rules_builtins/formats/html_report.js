/* pmo-rules HTML report: inlined into the page by html.py. Vanilla JS, no network.
 *
 * Reads the findings from the JSON data block (element id "pmo-data") and builds the
 * searchable, sortable, paged findings table. Data only ever reaches the page through
 * textContent, never innerHTML. Also makes the server-rendered tables (class
 * "sortable") sortable and lets rule names filter the findings table. A URL fragment
 * `#q=TEXT` pre-fills the search (links to one rule: `#q=rule:RULE-ID`).
 *
 * Drill-down: elements with `data-group` ("program" or "portfolio") and `data-value`
 * (the roll-up chart bars and table names) filter the findings table to that group's
 * findings (columns `program_key` / `portfolio_key`); so does the fragment
 * `#filter=program:PGM-001` (value URL-encoded; `&q=TEXT` may follow). A chip shows the
 * filter and clears it.
 */
(function () {
  "use strict";

  var SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
  var OUTCOME_RANK = { fail: 0, error: 1, waived: 2, pass: 3, not_applicable: 4 };
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function compare(a, b, type) {
    if (type === "num") { return (Number(a) || 0) - (Number(b) || 0); }
    if (type === "severity") { return (SEVERITY_RANK[a] === undefined ? 9 : SEVERITY_RANK[a]) - (SEVERITY_RANK[b] === undefined ? 9 : SEVERITY_RANK[b]); }
    if (type === "outcome") { return (OUTCOME_RANK[a] === undefined ? 9 : OUTCOME_RANK[a]) - (OUTCOME_RANK[b] === undefined ? 9 : OUTCOME_RANK[b]); }
    return collator.compare(String(a || ""), String(b || ""));
  }

  /* ---- server-rendered tables: click a header to sort ---------------------------- */
  function makeSortable(table) {
    var heads = table.querySelectorAll("thead th");
    Array.prototype.forEach.call(heads, function (th, col) {
      th.tabIndex = 0;
      function sortBy() {
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        var type = th.getAttribute("data-type") || "text";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var c1 = r1.cells[col], c2 = r2.cells[col];
          var v1 = c1 ? (c1.getAttribute("data-v") !== null ? c1.getAttribute("data-v") : c1.textContent) : "";
          var v2 = c2 ? (c2.getAttribute("data-v") !== null ? c2.getAttribute("data-v") : c2.textContent) : "";
          return dir * compare(v1, v2, type);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sortBy);
      th.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortBy(); } });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);

  /* ---- the findings table --------------------------------------------------------- */
  var raw = document.getElementById("pmo-data");
  var table = document.getElementById("findings");
  if (!raw || !table) { document.body.setAttribute("data-js", "ready"); return; }
  var data = JSON.parse(raw.textContent);
  var cols = data.columns;
  var rows = data.findings.map(function (a) {
    var o = {};
    for (var i = 0; i < cols.length; i++) { o[cols[i]] = a[i]; }
    o.hay = cols.map(function (c) { return o[c] === null || o[c] === undefined ? "" : String(o[c]); }).join("\u0001").toLowerCase();
    return o;
  });

  var ui = {
    q: document.getElementById("f-search"),
    outcome: document.getElementById("f-outcome"),
    severity: document.getElementById("f-severity"),
    pkg: document.getElementById("f-package"),
    size: document.getElementById("f-size"),
    prev: document.getElementById("f-prev"),
    next: document.getElementById("f-next"),
    count: document.getElementById("f-count"),
    controls: document.getElementById("f-controls"),
    chip: document.getElementById("f-group"),
    chipLabel: document.getElementById("f-group-label"),
    chipClear: document.getElementById("f-group-clear")
  };
  var GROUPS = { program: "Program", portfolio: "Portfolio" };
  var state = { sort: "outcome", dir: 1, page: 0, group: null };
  var tbody = table.tBodies[0];
  var showGroups = !!data.has_groups;

  function matches(r, q, outcome, severity, pkg, group) {
    if (group && r[group.dim + "_key"] !== group.value) { return false; }
    if (outcome && r.outcome !== outcome) { return false; }
    if (severity && r.severity !== severity) { return false; }
    if (pkg && r["package"] !== pkg) { return false; }
    if (!q) { return true; }
    var words = q.split(/\s+/);
    for (var i = 0; i < words.length; i++) {
      var w = words[i];
      if (!w) { continue; }
      if (w.indexOf("rule:") === 0 && w.length > 5) {
        if (r.rule.toLowerCase() !== w.slice(5)) { return false; }
      } else if (r.hay.indexOf(w) < 0) { return false; }
    }
    return true;
  }

  function sortKey(name) {
    if (name === "severity") { return "severity"; }
    if (name === "outcome") { return "outcome"; }
    return "text";
  }

  function outcomeCell(r) {
    var td = el("td");
    td.appendChild(el("span", "badge b-" + r.outcome, r.outcome === "not_applicable" ? "n/a" : r.outcome));
    return td;
  }

  function row(r) {
    var tr = el("tr", "finding-row");
    tr.appendChild(outcomeCell(r));
    var sev = el("td");
    sev.appendChild(el("div", "sev sev-" + r.severity, r.severity));
    sev.appendChild(el("div", "small", r.enforcement));
    tr.appendChild(sev);
    var rule = el("td");
    var btn = el("button", "rule-link mono", r.rule);
    btn.type = "button";
    btn.title = r.remediation ? "Fix: " + r.remediation : "Show only this rule";
    btn.setAttribute("data-rule", r.rule);
    rule.appendChild(btn);
    if (r.location) { rule.appendChild(el("div", "small mono", r.location)); }
    tr.appendChild(rule);
    var subj = el("td");
    subj.appendChild(el("div", "mono", r.subject));
    if (r.name) { subj.appendChild(el("div", "small", r.name)); }
    tr.appendChild(subj);
    if (showGroups) {
      var grp = el("td");
      grp.appendChild(el("div", null, r.portfolio || ""));
      grp.appendChild(el("div", "small", r.program || ""));
      tr.appendChild(grp);
    }
    var msg = el("td", "msg");
    msg.appendChild(el("div", null, r.message || ""));
    if (r.waiver) {
      msg.appendChild(el("div", "small waived-by", "Waived by " + r.waiver + (r.waiver_detail ? ": " + r.waiver_detail : "")));
    }
    if (r.note) { msg.appendChild(el("div", "small", "Note: " + r.note)); }
    tr.appendChild(msg);
    var ev = el("td", "ev");
    if (r.evidence) { ev.appendChild(el("pre", "evidence", r.evidence)); }
    tr.appendChild(ev);
    return tr;
  }

  function render() {
    var q = (ui.q.value || "").trim().toLowerCase();
    var outcome = ui.outcome.value, severity = ui.severity.value, pkg = ui.pkg.value;
    var group = state.group;
    var list = rows.filter(function (r) { return matches(r, q, outcome, severity, pkg, group); });
    var key = state.sort, type = sortKey(key), dir = state.dir;
    list.sort(function (a, b) {
      var c = compare(a[key], b[key], type);
      if (c === 0 && key !== "severity") { c = compare(a.severity, b.severity, "severity"); }
      if (c === 0) { c = compare(a.rule, b.rule, "text"); }
      if (c === 0) { c = compare(a.subject, b.subject, "text"); }
      return dir * c;
    });
    var size = parseInt(ui.size.value, 10) || 100;
    var pages = Math.max(1, Math.ceil(list.length / size));
    if (state.page >= pages) { state.page = pages - 1; }
    var start = state.page * size;
    var slice = list.slice(start, start + size);
    var frag = document.createDocumentFragment();
    slice.forEach(function (r) { frag.appendChild(row(r)); });
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    if (!slice.length) {
      var tr = el("tr"), td = el("td", "empty", rows.length ? "No finding matches the filters." : "No failing, erroring or waived findings.");
      td.colSpan = table.tHead.rows[0].cells.length;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    tbody.appendChild(frag);
    ui.count.textContent = list.length ? ("Showing " + (start + 1) + "\u2013" + (start + slice.length) + " of " + list.length +
      (list.length !== rows.length ? " (filtered from " + rows.length + ")" : "")) : "0 of " + rows.length;
    ui.prev.disabled = state.page === 0;
    ui.next.disabled = state.page >= pages - 1;
    showGroup();
  }

  /* ---- drill-down by program / portfolio ------------------------------------------ */
  function showGroup() {
    var g = state.group;
    if (ui.chip) {
      ui.chip.hidden = !g;
      ui.chipLabel.textContent = g ? GROUPS[g.dim] + ": " + g.value : "";
    }
    Array.prototype.forEach.call(document.querySelectorAll("[data-group]"), function (e) {
      var on = !!g && e.getAttribute("data-group") === g.dim && e.getAttribute("data-value") === g.value;
      if (on) { e.classList.add("selected"); } else { e.classList.remove("selected"); }
      if (e.tagName.toLowerCase() === "button") { e.setAttribute("aria-pressed", on ? "true" : "false"); }
    });
  }

  function setGroup(dim, value) {
    state.group = (dim && GROUPS.hasOwnProperty(dim) && value !== null && value !== undefined) ? { dim: dim, value: value } : null;
    state.page = 0;
  }
  if (ui.chipClear) {
    ui.chipClear.addEventListener("click", function () { setGroup(null); render(); });
  }

  var timer = null;
  ui.q.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { state.page = 0; render(); }, 120);
  });
  [ui.outcome, ui.severity, ui.pkg, ui.size].forEach(function (s) {
    s.addEventListener("change", function () { state.page = 0; render(); });
  });
  ui.prev.addEventListener("click", function () { if (state.page > 0) { state.page--; render(); } });
  ui.next.addEventListener("click", function () { state.page++; render(); });

  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th) {
    var key = th.getAttribute("data-key");
    if (!key) { return; }
    th.tabIndex = 0;
    function sortBy() {
      if (state.sort === key) { state.dir = -state.dir; } else { state.sort = key; state.dir = 1; }
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", state.dir === 1 ? "ascending" : "descending");
      state.page = 0;
      render();
    }
    th.addEventListener("click", sortBy);
    th.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortBy(); } });
  });

  function groupTarget(t) {
    while (t && t !== document && !(t.getAttribute && t.getAttribute("data-group"))) { t = t.parentNode; }
    return (!t || t === document) ? null : t;
  }
  function drill(t) {
    setGroup(t.getAttribute("data-group"), t.getAttribute("data-value"));
    render();
    document.getElementById("findings-section").scrollIntoView({ behavior: "smooth", block: "start" });
  }
  // Any element with data-group (roll-up bars and names) filters by program or portfolio.
  document.addEventListener("click", function (ev) {
    var t = groupTarget(ev.target);
    if (t) { drill(t); }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" && ev.key !== " ") { return; }
    var t = groupTarget(ev.target);
    if (t && t.tagName.toLowerCase() !== "button") { ev.preventDefault(); drill(t); }
  });

  // Any element with data-rule (rule tables, chart bars, rows) filters the findings table.
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    while (t && t !== document && !(t.getAttribute && t.getAttribute("data-rule"))) { t = t.parentNode; }
    if (!t || t === document) { return; }
    ui.q.value = "rule:" + t.getAttribute("data-rule");
    ui.outcome.value = "";
    state.page = 0;
    render();
    document.getElementById("findings-section").scrollIntoView({ behavior: "smooth", block: "start" });
  });

  // A link may carry a search: report.html#q=rule:governance.sponsor-assigned, or a
  // drill-down: report.html#filter=program:PGM-001 (optionally followed by &q=TEXT).
  function decode(text) {
    try { return decodeURIComponent(text.replace(/\+/g, " ")); } catch (e) { return text; }
  }
  function fromHash() {
    var hash = window.location.hash || "";
    var f = /^#filter=(program|portfolio):([^&]*)(?:&q=(.*))?$/.exec(hash);
    if (f) {
      setGroup(f[1], decode(f[2]));
      if (f[3] !== undefined) { ui.q.value = decode(f[3]); }
      return true;
    }
    var m = /^#q=(.*)$/.exec(hash);
    if (!m) { return false; }
    ui.q.value = decode(m[1]);
    state.page = 0;
    return true;
  }
  window.addEventListener("hashchange", function () { if (fromHash()) { render(); } });

  ui.controls.hidden = false;
  fromHash();
  render();
  document.body.setAttribute("data-js", "ready");
})();
