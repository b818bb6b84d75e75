/* Dashboards: drawing a dashboard's widgets from its data endpoint (refreshed every 30 s),
 * and the editor that composes the layout (widgets in order, move up/down, width, fields)
 * into the form's JSON field before it is posted. Times are drawn in the page's zone. */
(function () {
  "use strict";
  var cfgNode = document.getElementById("board-config");
  if (!cfgNode) { return; }
  var config = JSON.parse(cfgNode.textContent);
  var text = config.text;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  function table(head, rows) {
    var thead = el("thead", {}, [el("tr", {}, head.map(function (h) { return el("th", { text: h }); }))]);
    var tbody = el("tbody", {}, rows.map(function (r) {
      return el("tr", {}, r.map(function (c) {
        return c instanceof Node ? el("td", {}, [c]) : el("td", { text: c === null ? "" : String(c) });
      }));
    }));
    return el("table", { "class": "grid compact" }, [thead, tbody]);
  }

  function note(msg) { return el("p", { "class": "muted", text: msg }); }

  // -- viewing ---------------------------------------------------------------------------
  var grid = document.getElementById("board-grid");
  var charts = {};

  function chartOf(box) {
    var i = box.getAttribute("data-index");
    if (!charts[i]) { charts[i] = echarts.init(box.querySelector(".widget-chart")); }
    return charts[i];
  }

  function drawChart(box, w, d) {
    var any = d.series.some(function (s) { return s.data.length > 0; });
    // One axis per unit, two at most (a third unit shares the first axis).
    var units = [];
    d.series.forEach(function (s) { if (units.indexOf(s.unit) < 0 && units.length < 2) { units.push(s.unit); } });
    if (!units.length) { units = [""]; }
    chartOf(box).setOption({
      animation: false,
      useUTC: true,
      color: ["#1d4ed8", "#15803d", "#b45309", "#7c3aed"],
      tooltip: { trigger: "axis", formatter: indunetZone.tooltip },
      legend: { top: 0, left: "center" },
      grid: { left: 52, right: units.length > 1 ? 52 : 16, top: 36, bottom: 28 },
      xAxis: indunetZone.axis({ min: d.start, max: d.end }),
      yAxis: units.map(function (u, i) {
        return { type: "value", scale: true, name: u, position: i ? "right" : "left",
                 splitLine: { show: i === 0 } };
      }),
      graphic: any ? [] : [{ type: "text", left: "center", top: "middle",
                             style: { text: text.no_data, fill: "#4b5563", fontSize: 14 } }],
      series: d.series.map(function (s) {
        return { name: s.name + (s.unit ? " (" + s.unit + ")" : ""), type: "line",
                 yAxisIndex: Math.max(0, units.indexOf(s.unit)), showSymbol: s.data.length < 3,
                 connectNulls: false, data: s.data };
      })
    }, true);
  }

  var SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, label) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (label !== undefined) { node.textContent = label; }
    return node;
  }

  function number(v) { return String(Math.round(v * 100) / 100); }

  // A half-circle gauge in SVG: the share of [min, max] the value fills, the value in words.
  function drawGauge(box, w, d) {
    var holder = box.querySelector(".widget-chart");
    var share = d.value === null ? 0 : Math.max(0, Math.min(1, (d.value - w.min) / (w.max - w.min)));
    var arc = "M 20 100 A 80 80 0 0 1 180 100";
    var color = share >= 0.9 ? "#b91c1c" : share >= 0.75 ? "#b45309" : "#1d4ed8";
    var shown = d.value === null ? "—" : number(d.value) + (d.unit ? " " + d.unit : "");
    var root = svg("svg", { viewBox: "0 0 200 128", "class": "gauge", role: "img",
                            "aria-label": d.name + " " + shown });
    root.appendChild(svg("path", { d: arc, fill: "none", stroke: "#e5e7eb", "stroke-width": "16", "stroke-linecap": "round" }));
    if (share > 0) {
      root.appendChild(svg("path", { d: arc, fill: "none", stroke: color, "stroke-width": "16", "stroke-linecap": "round",
                                     pathLength: "100", "stroke-dasharray": (share * 100).toFixed(2) + " 100" }));
    }
    root.appendChild(svg("text", { x: "100", y: "88", "text-anchor": "middle", "class": "gauge-value" }, shown));
    root.appendChild(svg("text", { x: "100", y: "124", "text-anchor": "middle", "class": "gauge-name" }, d.name));
    root.appendChild(svg("text", { x: "20", y: "118", "text-anchor": "middle", "class": "gauge-end" }, number(w.min)));
    root.appendChild(svg("text", { x: "180", y: "118", "text-anchor": "middle", "class": "gauge-end" }, number(w.max)));
    holder.replaceChildren(root);
    holder.setAttribute("data-value", d.value === null ? "" : String(d.value));
  }

  function fill(box, w, d) {
    var body = box.querySelector(".widget-body");
    if (d.missing) {
      (body || box).replaceChildren(note(text.missing));
      return;
    }
    if (w.type === "chart") { drawChart(box, w, d); return; }
    if (w.type === "gauge") { drawGauge(box, w, d); return; }
    if (!body) { return; }
    if (w.type === "latest") {
      body.replaceChildren(d.rows.length ? table([text.point, text.value, text.time], d.rows.map(function (r) {
        return [r[0], r[1] + (r[2] ? " " + r[2] : ""), r[3] ? indunetZone.clock(r[3]) : ""];
      })) : note(text.no_data));
    } else if (w.type === "alarms") {
      body.replaceChildren(d.alarms.length ? table([text.time, text.device, text.message], d.alarms.map(function (a) {
        var badge = el("span", { "class": "badge sev-" + a[0], text: text.severity[a[0]] || a[0] });
        var msg = el("span", {}, [badge, document.createTextNode(" " + a[2])]);
        return [indunetZone.clock(a[3]).slice(5, 16), a[1], msg];
      })) : note(text.no_alarms));
    } else if (w.type === "locations") {
      body.replaceChildren(d.devices.length ? table([text.device, text.name, text.location], d.devices.map(function (r) {
        var link = el("a", { href: "/platform/devices/" + encodeURIComponent(r[0]), text: r[0] });
        var status = el("span", { "class": "badge " + r[2], text: text.status[r[2]] || r[2] });
        var name = el("span", {}, [document.createTextNode(r[1] + " "), status]);
        return [link, name, r[3]];
      })) : note(text.missing));
    }
  }

  function load() {
    var layout = JSON.parse(document.getElementById("board-layout-data").textContent);
    fetch(config.data_url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        grid.querySelectorAll(".widget").forEach(function (box) {
          var i = Number(box.getAttribute("data-index"));
          if (data.widgets[i]) { fill(box, layout.widgets[i], data.widgets[i]); }
        });
        grid.setAttribute("data-loaded", "true");
      })
      .catch(function () { /* the next refresh tries again */ });
  }

  if (grid) {
    load();
    setInterval(load, config.refresh_ms);
    window.addEventListener("resize", function () {
      Object.keys(charts).forEach(function (k) { charts[k].resize(); });
    });
  }

  // -- editing ---------------------------------------------------------------------------
  var edNode = document.getElementById("editor-config");
  if (!edNode) { return; }
  var ed = JSON.parse(edNode.textContent);
  var words = ed.text;
  var field = document.getElementById("board-layout");
  var holder = document.getElementById("widget-editor");
  var widgets = [];
  var devices = {};  // id -> {id, name, points}
  var seq = 0;
  try { widgets = JSON.parse(field.value).widgets || []; } catch (e) { widgets = []; }

  var sync = null;  // set below: the widgets into the form's JSON field

  function lookup(q, done) {
    fetch(ed.devices_url + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { devices: [] }; })
      .then(function (d) {
        d.devices.forEach(function (dev) { devices[dev.id] = dev; });
        done(d.devices);
      })
      .catch(function () { done([]); });
  }

  function labelled(label, control) {
    seq += 1;
    control.id = control.id || "wf-" + seq;
    var l = el("label", { "for": control.id, text: label });
    return el("div", { "class": "field" }, [l, control]);
  }

  function select(options, value, onchange) {
    var s = el("select");
    options.forEach(function (o) {
      var opt = el("option", { value: String(o.value), text: o.label });
      if (String(o.value) === String(value)) { opt.selected = true; }
      s.appendChild(opt);
    });
    s.addEventListener("change", function () { onchange(s.value); });
    return s;
  }

  function input(value, type, onchange) {
    var i = el("input", { type: type || "text" });
    i.value = value === undefined || value === null ? "" : value;
    i.addEventListener("input", function () { onchange(i.value); });
    return i;
  }

  function deviceField(w, key, after) {
    var list = el("datalist", { id: "wd-" + (++seq) });
    var box = input(w[key] || "", "text", function (v) {
      w[key] = v.trim();
      sync();
      lookup(v.trim(), function (found) {
        list.replaceChildren.apply(list, found.map(function (d) { return el("option", { value: d.id, text: d.name }); }));
        if (devices[w[key]] && after) { after(); }
      });
    });
    box.setAttribute("list", list.id);
    box.setAttribute("autocomplete", "off");
    box.className = "mono";
    var wrap = labelled(words.device, box);
    wrap.appendChild(list);
    return wrap;
  }

  function pointChoices(w, many, numeric) {
    var wrap = el("fieldset", { "class": "points" }, [el("legend", { text: many ? words.points : words.point })]);
    var dev = devices[w.device];
    if (!dev) {
      if (w.device) { lookup(w.device, function () { if (devices[w.device]) { render(); } }); }
      wrap.appendChild(note(words.pick_device));
      return wrap;
    }
    var pts = dev.points.filter(function (p) { return !numeric || p.numeric; });
    if (!pts.length) { wrap.appendChild(note(words.no_points)); }
    pts.forEach(function (p) {
      seq += 1;
      var id = "wp-" + seq;
      var box = el("input", { type: many ? "checkbox" : "radio", id: id, name: "wp-" + w._key, value: p.name });
      var chosen = many ? (w.points || []).indexOf(p.name) >= 0 : w.point === p.name;
      box.checked = chosen;
      box.addEventListener("change", function () {
        if (many) {
          var set = (w.points || []).filter(function (n) { return n !== p.name; });
          if (box.checked) { set.push(p.name); }
          w.points = set;
        } else {
          w.point = p.name;
        }
        sync();
      });
      wrap.appendChild(el("span", { "class": "choice" }, [box, el("label", { "for": id, text: p.title + (p.unit ? " (" + p.unit + ")" : "") })]));
    });
    return wrap;
  }

  function fieldsOf(w) {
    var out = [];
    var redraw = function () { render(); };
    if (w.type === "text") {
      var area = el("textarea", { rows: "3", maxlength: "2000" });
      area.value = w.text || "";
      area.addEventListener("input", function () { w.text = area.value; sync(); });
      out.push(labelled(words.text, area));
    } else if (w.type === "locations") {
      out.push(labelled(words.devices, input((w.devices || []).join(", "), "text", function (v) {
        w.devices = v.split(/[\s,]+/).filter(Boolean); sync();
      })));
    } else if (w.type === "alarms") {
      out.push(deviceField(w, "device"));
      out.push(labelled(words.rows, input(w.rows || 10, "number", function (v) { w.rows = Number(v); sync(); })));
    } else {
      out.push(deviceField(w, "device", redraw));
      if (w.type === "chart") {
        out.push(labelled(words.range, select(ed.ranges, w.range || "24h", function (v) { w.range = v; sync(); })));
        out.push(pointChoices(w, true, true));
      } else if (w.type === "gauge") {
        out.push(labelled(words.min, input(w.min === undefined ? 0 : w.min, "number", function (v) { w.min = Number(v); sync(); })));
        out.push(labelled(words.max, input(w.max === undefined ? 100 : w.max, "number", function (v) { w.max = Number(v); sync(); })));
        out.push(pointChoices(w, false, true));
      } else {
        out.push(pointChoices(w, true, false));
      }
    }
    return out;
  }

  function typeLabel(type) {
    var found = ed.types.filter(function (o) { return o.value === type; })[0];
    return found ? found.label : type;
  }

  function move(i, by) {
    var j = i + by;
    if (j < 0 || j >= widgets.length) { return; }
    var w = widgets[i];
    widgets[i] = widgets[j];
    widgets[j] = w;
    sync();
    render();
  }

  function render() {
    holder.replaceChildren();
    widgets.forEach(function (w, i) {
      w._key = w._key || ("k" + (++seq));
      var head = el("div", { "class": "widget-head" }, [
        el("strong", { text: (i + 1) + ". " + typeLabel(w.type) })
      ]);
      var up = el("button", { type: "button", "class": "secondary", text: words.up, "data-move": "up" });
      var down = el("button", { type: "button", "class": "secondary", text: words.down, "data-move": "down" });
      var rm = el("button", { type: "button", "class": "secondary", text: words.remove, "data-remove": "1" });
      up.disabled = i === 0;
      down.disabled = i === widgets.length - 1;
      up.addEventListener("click", function () { move(i, -1); });
      down.addEventListener("click", function () { move(i, 1); });
      rm.addEventListener("click", function () { widgets.splice(i, 1); sync(); render(); });
      head.appendChild(el("span", { "class": "widget-buttons" }, [up, down, rm]));
      var common = [
        labelled(words.title, input(w.title || "", "text", function (v) { w.title = v; sync(); })),
        labelled(words.width, select(ed.widths.map(function (n) { return { value: n, label: n + "/12" }; }), w.width || 6,
                                     function (v) { w.width = Number(v); sync(); }))
      ];
      var card = el("fieldset", { "class": "widget-edit", "data-index": String(i), "data-type": w.type },
                    [el("legend", { "class": "visually-hidden", text: words.widget + " " + (i + 1) }), head,
                     el("div", { "class": "widget-fields" }, common.concat(fieldsOf(w)))]);
      holder.appendChild(card);
    });
  }

  // Keys the editor uses for itself (_key) never reach the server.
  sync = function () {
    field.value = JSON.stringify({ widgets: widgets.map(function (w) {
      var copy = {};
      Object.keys(w).forEach(function (k) { if (k.charAt(0) !== "_") { copy[k] = w[k]; } });
      return copy;
    }) }, null, 1);
  };

  document.getElementById("add-widget").addEventListener("click", function () {
    if (widgets.length >= ed.limits.widgets) { return; }
    var type = document.getElementById("new-widget-type").value;
    var w = { type: type, title: "", width: type === "text" || type === "gauge" ? 4 : 6 };
    if (type === "chart") { w.range = "24h"; w.points = []; }
    if (type === "gauge") { w.min = 0; w.max = 100; }
    if (type === "latest") { w.points = []; }
    if (type === "alarms") { w.rows = 10; }
    if (type === "locations") { w.devices = []; }
    if (type === "text") { w.text = ""; }
    widgets.push(w);
    sync();
    render();
  });
  // The JSON field edited by hand wins when it parses (the editor redraws from it).
  field.addEventListener("change", function () {
    try { widgets = JSON.parse(field.value).widgets || []; render(); } catch (e) { /* kept as typed */ }
  });
  var del = document.getElementById("delete-board");
  if (del) {
    del.form.addEventListener("submit", function (ev) {
      if (!window.confirm(del.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  }
  var known = {};
  widgets.forEach(function (w) { if (w.device) { known[w.device] = true; } });
  var pending = Object.keys(known);
  if (!pending.length) { render(); return; }
  pending.forEach(function (id) {
    lookup(id, function () {
      delete known[id];
      if (!Object.keys(known).length) { render(); }
    });
  });
})();
