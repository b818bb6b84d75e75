/* Node status charts: resolutions per minute and cache hits, refreshed from /api/v1/nodes. */
(function () {
  "use strict";
  var REFRESH_MS = 10000;
  var palette = ["#1d4ed8", "#c2410c", "#15803d", "#7e22ce", "#b45309"];
  var text = JSON.parse(document.getElementById("chart-text").textContent);
  var minutes = echarts.init(document.getElementById("chart-minutes"));
  var cache = echarts.init(document.getElementById("chart-cache"));

  function clock(sec) { return indunetZone.clock(sec * 1000).slice(11, 16); }

  function drawMinutes(nodes) {
    var labels = nodes.length ? nodes[0].resolutions_per_minute.map(function (p) { return clock(p.minute); }) : [];
    minutes.setOption({
      color: palette,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, type: "scroll" },
      grid: { left: 44, right: 16, top: 40, bottom: 28 },
      xAxis: { type: "category", data: labels, axisTick: { alignWithLabel: true } },
      yAxis: { type: "value", minInterval: 1 },
      series: nodes.map(function (n) {
        return {
          name: n.name, type: "bar", stack: "nodes", barCategoryGap: "20%",
          data: n.resolutions_per_minute.map(function (p) { return p.count; })
        };
      })
    }, true);
  }

  function drawCache(nodes) {
    var holder = nodes.filter(function (n) { return n.name === "recursive" && n.cache; })[0] ||
      nodes.filter(function (n) { return n.cache; })[0];
    var c = holder && holder.cache;
    if (!c || c.hits + c.misses === 0) {
      cache.setOption({
        title: { text: text.no_cache, left: "center", top: "middle",
                 textStyle: { fontSize: 14, color: "#6b7280", fontWeight: "normal" } },
        series: []
      }, true);
      return;
    }
    cache.setOption({
      color: ["#15803d", "#d1d5db"],
      tooltip: { trigger: "item" },
      legend: { bottom: 0 },
      title: { text: (c.hit_rate * 100).toFixed(1) + "%", subtext: text.cache_node, left: "center", top: "36%" },
      series: [{
        type: "pie", radius: ["52%", "72%"], center: ["50%", "46%"], label: { show: false },
        data: [{ name: text.hits, value: c.hits }, { name: text.misses, value: c.misses }]
      }]
    }, true);
  }

  function draw(nodes) { drawMinutes(nodes); drawCache(nodes); }

  draw(JSON.parse(document.getElementById("node-data").textContent));
  setInterval(function () {
    fetch("/api/v1/nodes", { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) { draw(d); } })
      .catch(function () { /* keep the last picture; the next tick tries again */ });
  }, REFRESH_MS);
  window.addEventListener("resize", function () { minutes.resize(); cache.resize(); });
})();
