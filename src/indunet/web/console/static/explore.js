/* The telemetry explorer: several points of one device on one ECharts chart.
 * One y axis per unit (or every series normalised to 0-100 % of its range in the window).
 * Zooming (mouse wheel, drag, or the slider) fetches the zoomed window again at a finer
 * resolution, moves the from/to inputs to it, and points the export links at exactly that
 * window. Times are labelled in the page's zone (zone.js); the server speaks UTC ms. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("explore-config").textContent);
  var text = config.text;
  var el = document.getElementById("explore-chart");
  var chart = echarts.init(el);
  var outer = { start: config.start, end: config.end };   // the page's window
  var view = { start: config.start, end: config.end };    // what is drawn now
  var last = null;                                        // the last answer
  var normalise = document.getElementById("normalise");
  var fromInput = document.getElementById("range-from");
  var toInput = document.getElementById("range-to");
  var zoomTimer = null;
  var loading = 0;
  var COLORS = ["#1d4ed8", "#b45309", "#047857", "#be123c", "#6d28d9", "#0e7490", "#4d7c0f", "#9d174d"];

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; });
  }

  function query(extra) {
    var parts = ["device=" + encodeURIComponent(config.device)];
    config.points.forEach(function (p) { parts.push("points=" + encodeURIComponent(p)); });
    parts.push("start=" + view.start, "end=" + view.end);
    return parts.concat(extra || []).join("&");
  }

  function localValue(ms) {  // a datetime-local value in the page's zone
    return indunetZone.clock(ms).replace(" ", "T").slice(0, 16);
  }

  function showWindow() {
    document.getElementById("export-csv").href = config.export_url + "?" + query(["format=csv"]);
    document.getElementById("export-parquet").href = config.export_url + "?" + query(["format=parquet"]);
    document.getElementById("shown-range").textContent =
      indunetZone.clock(view.start) + " – " + indunetZone.clock(view.end);
    if (fromInput) { fromInput.value = localValue(view.start); }
    if (toInput) { toInput.value = localValue(view.end); }
  }

  function units(series) {
    var seen = [];
    series.forEach(function (s) { if (seen.indexOf(s.unit) < 0) { seen.push(s.unit); } });
    return seen;
  }

  function rowsOf(s) {  // [ts, value]: raw values, or bucket averages
    return s.data.map(function (r) { return [r[0], r[1]]; });
  }

  function scaled(rows) {
    var lo = Infinity, hi = -Infinity;
    rows.forEach(function (r) { if (r[1] !== null) { lo = Math.min(lo, r[1]); hi = Math.max(hi, r[1]); } });
    var span = hi - lo;
    return rows.map(function (r) {
      if (r[1] === null) { return [r[0], null]; }
      return [r[0], span > 0 ? Math.round((r[1] - lo) / span * 10000) / 100 : 50];
    });
  }

  function broken(rows, gaps) {  // a null just after each gap starts: the line stops there
    var out = rows.slice();
    (gaps || []).forEach(function (g) { out.push([g.start + 1, null]); });
    return out.sort(function (a, b) { return a[0] - b[0]; });
  }

  function option(d) {
    var norm = normalise && normalise.checked;
    var list = units(d.series);
    var yAxis = norm
      ? [{ type: "value", min: 0, max: 100, name: text.normalised, axisLabel: { formatter: "{value} %" } }]
      : list.map(function (u, i) {
        return {
          type: "value", scale: true, name: u, position: i % 2 ? "right" : "left",
          offset: Math.floor(i / 2) * 56, alignTicks: true, splitLine: { show: i === 0 }
        };
      });
    var series = d.series.map(function (s, i) {
      var rows = rowsOf(s);
      return {
        name: s.title + (s.unit ? " (" + s.unit + ")" : ""),
        type: "line", showSymbol: rows.length < 60, symbolSize: 4,
        step: s.type === "boolean" ? "end" : false,
        yAxisIndex: norm ? 0 : list.indexOf(s.unit),
        data: broken(norm ? scaled(rows) : rows, d.gaps),
        lineStyle: { width: 1.6 }, connectNulls: false,
        markArea: i === 0 ? {
          silent: true, itemStyle: { color: "rgba(220, 38, 38, 0.10)" },
          data: (d.gaps || []).map(function (g) {
            return [{ xAxis: g.start }, { xAxis: g.end === null ? d.end : g.end }];
          })
        } : undefined
      };
    });
    var pairs = Math.ceil(list.length / 2);
    var empty = d.series.every(function (s) { return !s.data.length; });
    return {
      animation: false,
      useUTC: true,  // ticks in UTC; zone.js labels them in the page's zone
      color: COLORS,
      legend: { top: 0, type: "scroll" },
      tooltip: { trigger: "axis", formatter: indunetZone.tooltip },
      grid: { left: 24 + 56 * pairs, right: 24 + 56 * (norm ? 0 : Math.floor(list.length / 2)), top: 48, bottom: 72 },
      xAxis: indunetZone.axis({ min: d.start, max: d.end }),
      yAxis: yAxis,
      dataZoom: [
        { type: "inside", xAxisIndex: 0, filterMode: "none" },
        { type: "slider", xAxisIndex: 0, filterMode: "none", bottom: 16, height: 22,
          labelFormatter: function (v) { return indunetZone.clock(v); } }
      ],
      graphic: empty ? [{ type: "text", left: "center", top: "middle",
        style: { text: text.no_data, fill: "#4b5563", fontSize: 14 } }] : [],
      series: series
    };
  }

  function describe(d) {
    var modes = d.series.map(function (s) {
      return s.title + ": " + (s.mode === "raw"
        ? fill(text.raw, { n: s.data.length })
        : fill(text.buckets, { n: s.data.length, s: Math.round(s.bucket_ms / 1000) }));
    });
    document.getElementById("series-mode").textContent = modes.join(" · ");
  }

  function draw() {
    var ask = ++loading;
    el.setAttribute("aria-busy", "true");
    showWindow();
    fetch(config.series_url + "?" + query(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (answer) {
        if (ask !== loading) { return; }
        el.removeAttribute("aria-busy");
        if (!answer.ok) {
          document.getElementById("series-mode").textContent = answer.body.text || answer.body.message || "";
          return;
        }
        last = answer.body;
        chart.setOption(option(last), true);
        describe(last);
        el.setAttribute("data-drawn", String(last.start) + "-" + String(last.end));
      })
      .catch(function () { el.removeAttribute("aria-busy"); });
  }

  // Zooming: once the user stops, fetch the zoomed window at its own resolution.
  chart.on("datazoom", function () {
    if (zoomTimer) { clearTimeout(zoomTimer); }
    zoomTimer = setTimeout(function () {
      var zoom = chart.getOption().dataZoom[0];
      var lo = Math.round(zoom.startValue), hi = Math.round(zoom.endValue);
      if (!(hi > lo) || (lo === view.start && hi === view.end)) { return; }
      view = { start: Math.max(lo, 0), end: hi };
      draw();
    }, 350);
  });

  if (normalise) {
    normalise.addEventListener("change", function () { if (last) { chart.setOption(option(last), true); } });
  }
  var reset = document.getElementById("zoom-reset");
  if (reset) {
    reset.addEventListener("click", function () { view = { start: outer.start, end: outer.end }; draw(); });
  }
  window.addEventListener("resize", function () { chart.resize(); });
  window.indunetExplorer = { chart: chart, view: function () { return view; } };
  draw();
})();
