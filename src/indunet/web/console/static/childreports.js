/* Secondaries' reports: registrations (bars) and resolutions (line) summed per day of China
   Standard Time. The data is in <script id="stats-data"> (web/console/children.py). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("stats-data").textContent);
  var text = data.text;
  var chart = echarts.init(document.getElementById("chart-days"));
  var any = data.days.some(function (d) { return d[1] || d[2]; });
  chart.setOption({
    color: ["#1d4ed8", "#c2410c"],
    animation: false,
    title: any ? undefined : { text: text.empty, left: "center", top: "middle",
      textStyle: { fontSize: 14, color: "#4b5563", fontWeight: "normal" } },
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 56, right: 56, top: 40, bottom: 32 },
    xAxis: { type: "category", data: data.days.map(function (d) { return d[0]; }),
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
  window.addEventListener("resize", function () { chart.resize(); });
})();
