/* The regulation overview: enterprises by type and level (stacked bars) and notice
   statistics by region (grouped bars). The data is in <script id="regulation-data">
   (web/console/regulation.py); every text comes from the page's catalogue. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("regulation-data").textContent);
  var text = data.text;
  var charts = [];

  function empty(chart) {
    chart.setOption({
      title: { text: text.empty, left: "center", top: "middle",
               textStyle: { fontSize: 14, color: "#4b5563", fontWeight: "normal" } }
    });
  }

  var byType = echarts.init(document.getElementById("chart-type-level"));
  charts.push(byType);
  byType.setOption({
    color: ["#9ca3af", "#15803d", "#c2410c", "#b91c1c"],
    animation: false,
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0 },
    grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: data.types,
             axisLabel: { interval: 0, width: 110, overflow: "break" } },
    yAxis: { type: "value", minInterval: 1 },
    series: data.levels.map(function (lv) {
      return { name: lv[0], type: "bar", stack: "level", barMaxWidth: 48, data: lv[1] };
    })
  });

  var regions = echarts.init(document.getElementById("chart-regions"));
  charts.push(regions);
  if (!data.regions.length) {
    empty(regions);
  } else {
    var names = [text.issued, text.signed_in_time, text.disposed_in_time, text.overdue];
    regions.setOption({
      color: ["#1d4ed8", "#0891b2", "#15803d", "#b91c1c"],
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.regions.map(function (r) { return r[0]; }),
               axisLabel: { interval: 0, rotate: data.regions.length > 8 ? 30 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: names.map(function (name, i) {
        return { name: name, type: "bar", barMaxWidth: 28,
                 data: data.regions.map(function (r) { return r[i + 1]; }) };
      })
    });
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
