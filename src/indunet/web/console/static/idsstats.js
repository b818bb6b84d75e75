/* Identifier statistics: registrations and resolutions per day (in the page's zone), by
   prefix and by enterprise. The data is in <script id="stats-data"> (web/console/idsstats.py). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("stats-data").textContent);
  var text = data.text;
  var palette = ["#1d4ed8", "#c2410c"];
  var charts = [];

  function empty(chart) {
    chart.setOption({
      title: { text: text.empty, left: "center", top: "middle",
               textStyle: { fontSize: 14, color: "#4b5563", fontWeight: "normal" } }
    });
  }

  function escape(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* Days are the page's zone's days (the server counted them so): one category per day. */
  function dayTooltip(params) {
    var list = Array.isArray(params) ? params : [params];
    if (!list.length) { return ""; }
    var lines = [escape(list[0].axisValue)];
    list.forEach(function (p) {
      lines.push(p.marker + escape(p.seriesName) + " <b>" + escape(String(p.value)) + "</b>");
    });
    return lines.join("<br>");
  }

  var days = echarts.init(document.getElementById("chart-days"));
  charts.push(days);
  days.setOption({
    color: palette,
    animation: false,
    tooltip: { trigger: "axis", formatter: dayTooltip },
    legend: { top: 0 },
    grid: { left: 56, right: 56, top: 40, bottom: 32 },
    xAxis: { type: "category", data: data.days.map(function (d) { return d[0].slice(5); }),
             axisTick: { alignWithLabel: true } },
    yAxis: [
      { type: "value", name: text.registrations, minInterval: 1 },
      { type: "value", name: text.resolutions, minInterval: 1 }
    ],
    series: [
      { name: text.registrations, type: "bar", barMaxWidth: 18,
        data: data.days.map(function (d) { return d[1]; }) },
      { name: text.resolutions, type: "line", yAxisIndex: 1, showSymbol: data.days.length <= 31,
        data: data.days.map(function (d) { return d[2]; }) }
    ]
  });

  function ranking(id, rows) {
    var chart = echarts.init(document.getElementById(id));
    charts.push(chart);
    if (!rows.length) { empty(chart); return; }
    var shown = rows.slice().reverse();  /* the busiest on top */
    chart.setOption({
      color: palette,
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 48, top: 40, bottom: 24, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: shown.map(function (r) { return r[0]; }),
               axisLabel: { width: 160, overflow: "truncate" } },
      series: [
        { name: text.registrations, type: "bar", barMaxWidth: 22, label: { show: true, position: "right" },
          data: shown.map(function (r) { return r[1]; }) },
        { name: text.resolutions, type: "bar", barMaxWidth: 22, label: { show: true, position: "right" },
          data: shown.map(function (r) { return r[2]; }) }
      ]
    });
  }
  ranking("chart-prefixes", data.prefixes);
  ranking("chart-enterprises", data.enterprises);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
