/* The overview's charts: devices online, alarms raised by severity, samples per minute,
 * resolutions per day and the devices with most alarms, from /platform/overview/charts
 * (the console session; the server scopes every figure to what the user may see).
 * Times are drawn in the page's zone (zone.js); the data refreshes every minute. */
(function () {
  "use strict";
  var holder = document.getElementById("overview-config");
  if (!holder || !window.echarts) { return; }
  var config = JSON.parse(holder.textContent);
  var text = config.text;
  var range = config.ranges[0];
  var charts = {};
  var SEVERITY_COLORS = { critical: "#7f1d1d", major: "#dc2626", minor: "#d97706", warning: "#ca8a04" };

  function chart(id) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    if (!charts[id]) { charts[id] = echarts.init(el); }
    return charts[id];
  }

  function empty(has) {
    return has ? [] : [{ type: "text", left: "center", top: "middle",
                         style: { text: text.no_data, fill: "#4b5563", fontSize: 14 } }];
  }

  function timeBase(d, extra) {
    return Object.assign({
      animation: false,
      useUTC: true,
      tooltip: { trigger: "axis", formatter: indunetZone.tooltip },
      grid: { left: 48, right: 16, top: 30, bottom: 28 },
      xAxis: indunetZone.axis({ min: d.start, max: d.end }),
      yAxis: { type: "value", minInterval: 1 }
    }, extra || {});
  }

  function drawOnline(d) {
    var c = chart("chart-online");
    if (!c) { return; }
    var any = d.online.some(function (p) { return p[1] > 0; });
    c.setOption(timeBase(d, {
      color: ["#15803d"],
      graphic: empty(any),
      series: [{ name: text.online, type: "line", step: "end", showSymbol: false,
                 areaStyle: { opacity: 0.15 }, data: d.online }]
    }), true);
  }

  function drawAlarms(d) {
    var c = chart("chart-alarms");
    if (!c) { return; }
    var any = false;
    var series = Object.keys(d.alarms).map(function (sev) {
      d.alarms[sev].forEach(function (p) { if (p[1] > 0) { any = true; } });
      return { name: text[sev] || sev, type: "bar", stack: "alarms", barMaxWidth: 18,
               itemStyle: { color: SEVERITY_COLORS[sev] }, data: d.alarms[sev] };
    });
    c.setOption(timeBase(d, {
      legend: { top: 0, right: 0, itemWidth: 12, itemHeight: 10 },
      graphic: empty(any), series: series
    }), true);
  }

  function drawIngest(d) {
    var c = chart("chart-ingest");
    if (!c || !d.ingest) { return; }
    var accepted = d.ingest.map(function (m) { return [m[0], m[1]]; });
    var stored = d.ingest.map(function (m) { return [m[0], m[2]]; });
    c.setOption(timeBase(d, {
      color: ["#1d4ed8", "#15803d"],
      legend: { top: 0, right: 0 },
      graphic: empty(d.ingest.length > 0),
      series: [
        { name: text.accepted, type: "line", showSymbol: accepted.length < 3, data: accepted },
        { name: text.stored, type: "line", showSymbol: stored.length < 3, lineStyle: { type: "dashed" }, data: stored }
      ]
    }), true);
  }

  function drawResolutions(d) {
    var c = chart("chart-resolutions");
    if (!c) { return; }
    var days = d.resolutions.map(function (r) { return r[0].slice(5); });
    var any = d.resolutions.some(function (r) { return r[1] > 0 || r[2] > 0; });
    c.setOption({
      animation: false,
      graphic: empty(any),
      color: ["#1d4ed8", "#9ca3af"],
      tooltip: { trigger: "axis" },
      legend: { top: 0, right: 0 },
      grid: { left: 48, right: 16, top: 30, bottom: 28 },
      xAxis: { type: "category", data: days },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: text.resolutions, type: "bar", data: d.resolutions.map(function (r) { return r[2]; }) },
        { name: text.registrations, type: "bar", data: d.resolutions.map(function (r) { return r[1]; }) }
      ]
    }, true);
  }

  function drawTop(d) {
    var c = chart("chart-top");
    if (!c) { return; }
    var rows = d.top.slice().reverse();
    c.setOption({
      animation: false,
      color: ["#b91c1c"],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 140, right: 24, top: 10, bottom: 24 },
      graphic: empty(rows.length > 0),
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: rows.map(function (r) { return r[0]; }) },
      series: [{ name: text.alarms, type: "bar", barMaxWidth: 16,
                 data: rows.map(function (r) { return r[1]; }) }]
    }, true);
  }

  function load() {
    fetch(config.url + "?range=" + encodeURIComponent(range), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (!d) { return; }
        drawOnline(d); drawAlarms(d); drawIngest(d); drawResolutions(d); drawTop(d);
        document.getElementById("overview-charts").setAttribute("data-loaded", range);
      })
      .catch(function () { /* the next refresh tries again */ });
  }

  document.querySelectorAll("#overview-charts [data-range]").forEach(function (b) {
    b.addEventListener("click", function () {
      range = b.getAttribute("data-range");
      document.querySelectorAll("#overview-charts [data-range]").forEach(function (o) {
        o.setAttribute("aria-pressed", o === b ? "true" : "false");
      });
      load();
    });
  });
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
  });
  load();
  setInterval(load, 60000);
})();
