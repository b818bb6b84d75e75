/* Complaint statistics per month (in the page's zone): filed by state and by category, with
   the overdue ones; closed, closed late and the median handling days against the deadline.
   The data is in <script id="complaint-stats-data"> (web/console/complaints.py). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("complaint-stats-data").textContent);
  var text = data.text;
  var months = data.months;
  var charts = [];
  var stateColours = { received: "#d97706", in_progress: "#2563eb", resolved: "#15803d", rejected: "#6b7280" };
  var kindColours = { identifier: "#1d4ed8", prefix: "#7c3aed", service: "#0f766e" };

  function stacked(id, groups, names, colours, extra) {
    var chart = echarts.init(document.getElementById(id));
    charts.push(chart);
    var series = groups.map(function (group) {  /* [key, per month], in the server's order */
      return { name: names[group[0]], type: "bar", stack: "filed", barMaxWidth: 22,
               itemStyle: { color: colours[group[0]] }, data: group[1] };
    });
    if (extra) { series.push(extra); }
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 48, bottom: 28 },
      xAxis: { type: "category", data: months, axisTick: { alignWithLabel: true } },
      yAxis: { type: "value", name: text.filed, minInterval: 1 },
      series: series
    });
  }

  stacked("chart-by-state", data.by_state, text.state, stateColours, {
    name: text.overdue, type: "line", itemStyle: { color: "#b91c1c" }, data: data.overdue
  });
  stacked("chart-by-kind", data.by_kind, text.kind, kindColours, null);

  var handling = echarts.init(document.getElementById("chart-handling"));
  charts.push(handling);
  handling.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 48, right: 56, top: 48, bottom: 28 },
    xAxis: { type: "category", data: months, axisTick: { alignWithLabel: true } },
    yAxis: [
      { type: "value", name: text.filed, minInterval: 1 },
      { type: "value", name: text.days, min: 0,
        max: function (v) { return Math.max(v.max, data.deadline) * 1.1; } }
    ],
    series: [
      { name: text.closed, type: "bar", barMaxWidth: 22, itemStyle: { color: "#15803d" },
        data: data.closed },
      { name: text.closed_late, type: "bar", barMaxWidth: 22, itemStyle: { color: "#b91c1c" },
        data: data.closed_late },
      { name: text.median, type: "line", yAxisIndex: 1, connectNulls: false,
        itemStyle: { color: "#1d4ed8" }, data: data.median,
        markLine: { symbol: "none", lineStyle: { color: "#b91c1c", type: "dashed" },
                    label: { formatter: text.deadline, position: "insideEndTop" },
                    data: [{ yAxis: data.deadline }] } }
    ]
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
