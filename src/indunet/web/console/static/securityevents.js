/* Security events over time: one bar per span of the matching events, labelled in the
   page's zone. The data is in <script id="security-events-data"> (web/console/security_events.py). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("security-events-data").textContent);
  var node = document.getElementById("chart-events");
  if (!node || !data.counts.length) { return; }
  var chart = echarts.init(node);
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    grid: { left: 48, right: 16, top: 16, bottom: 28 },
    xAxis: { type: "category", data: data.labels, axisTick: { alignWithLabel: true } },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", barMaxWidth: 22, itemStyle: { color: "#b91c1c" }, data: data.counts }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
}());
