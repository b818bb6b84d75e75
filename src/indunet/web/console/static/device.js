/* Device charts: one ECharts line chart per chosen point, over a chosen range, kept live.
 * Short ranges draw raw samples; long ranges draw bucket averages with a min-max band.
 * Stretches when the device was offline (the series' gaps) are shaded.
 * Data comes from the console's series endpoint (same session, same permission rules). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("device-config").textContent);
  var text = config.text;
  var holder = document.getElementById("charts");
  var empty = document.getElementById("charts-empty");
  var charts = {};     // point name -> ECharts instance
  var range = config.range;
  var timer = null;
  var byName = {};
  config.points.forEach(function (p) { byName[p.name] = p; });

  function url(point) {
    return config.series_url + "?point=" + encodeURIComponent(point) + "&range=" + encodeURIComponent(range);
  }

  function figure(point) {
    var p = byName[point];
    var fig = document.createElement("figure");
    fig.className = "chart-box";
    fig.dataset.point = point;
    var cap = document.createElement("figcaption");
    cap.textContent = p.title + (p.unit ? " (" + p.unit + ")" : "");
    var div = document.createElement("div");
    div.className = "chart";
    div.id = "chart-" + point;
    fig.appendChild(cap);
    fig.appendChild(div);
    holder.appendChild(fig);
    return div;
  }

  function option(point, d) {
    var p = byName[point];
    var step = p.type === "boolean" ? "end" : false;
    var base = {
      animation: false,
      useUTC: true,  // ticks in UTC; zone.js labels them in the page's zone
      color: ["#1d4ed8"],
      tooltip: { trigger: "axis", formatter: indunetZone.tooltip },
      grid: { left: 56, right: 20, top: 28, bottom: 28 },
      xAxis: indunetZone.axis({ min: d.start, max: d.end }),
      yAxis: { type: "value", scale: true, name: p.unit || "" },
      graphic: d.data.length ? [] : [{
        type: "text", left: "center", top: "middle",
        style: { text: text.no_data, fill: "#6b7280", fontSize: 14 }
      }]
    };
    var rows = broken(d);
    if (d.mode === "raw") {
      base.series = [{
        name: p.title, type: "line", showSymbol: d.data.length < 60, step: step,
        data: rows, lineStyle: { width: 1.6 }, markArea: gapAreas(d)
      }];
      return base;
    }
    // Buckets [ts, avg, min, max]: a transparent "min" line, then "max - min" stacked on it.
    base.series = [
      { name: text.min, type: "line", stack: "band", symbol: "none", step: step,
        lineStyle: { opacity: 0 }, tooltip: { show: false },
        data: rows.map(function (b) { return [b[0], b[2]]; }) },
      { name: text.band, type: "line", stack: "band", symbol: "none", step: step,
        lineStyle: { opacity: 0 }, areaStyle: { color: "#bfdbfe", opacity: 0.6 },
        tooltip: { show: false },
        data: rows.map(function (b) { return [b[0], b[3] === null ? null : b[3] - b[2]]; }) },
      { name: text.avg, type: "line", showSymbol: d.data.length < 60, symbolSize: 5, step: step,
        lineStyle: { width: 1.6 },
        data: rows.map(function (b) { return [b[0], b[1]]; }) }
    ];
    base.series[2].markArea = gapAreas(d);
    return base;
  }

  // The rows with an empty one just after each gap starts: the line stops at the outage
  // instead of running straight across it as if the machine had been quiet.
  function broken(d) {
    var rows = d.data.slice();
    (d.gaps || []).forEach(function (g) {
      var empty = [g.start + 1, null, null, null].slice(0, rows.length ? rows[0].length : 2);
      rows.push(empty);
    });
    return rows.sort(function (a, b) { return a[0] - b[0]; });
  }

  // The device's offline stretches, shaded, so an outage is not read as a quiet machine.
  function gapAreas(d) {
    return {
      silent: true, itemStyle: { color: "rgba(220, 38, 38, 0.10)" },
      data: (d.gaps || []).map(function (g) {
        return [{ xAxis: g.start }, { xAxis: g.end === null ? d.end : g.end }];
      })
    };
  }

  function draw(point) {
    var chart = charts[point];
    if (!chart) { return; }
    fetch(url(point), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (d && charts[point] === chart) { chart.setOption(option(point, d), true); }
      })
      .catch(function () { /* keep the last picture; the next tick tries again */ });
  }

  function drawAll() { Object.keys(charts).forEach(draw); }

  function show(point, on) {
    if (on && !charts[point]) {
      charts[point] = echarts.init(figure(point));  // the figure spans the card's width
      charts[point].resize();
      draw(point);
    } else if (!on && charts[point]) {
      var el = charts[point].getDom().parentNode;
      charts[point].dispose();
      delete charts[point];
      el.parentNode.removeChild(el);
    }
    empty.hidden = Object.keys(charts).length > 0;
  }

  function schedule() {
    if (timer) { clearInterval(timer); }
    timer = setInterval(drawAll, config.refresh_ms[range] || 5000);
  }

  document.querySelectorAll("#chart-points button[data-point]").forEach(function (b) {
    b.addEventListener("click", function () {
      var on = b.getAttribute("aria-pressed") !== "true";
      b.setAttribute("aria-pressed", on ? "true" : "false");
      show(b.dataset.point, on);
    });
    if (b.getAttribute("aria-pressed") === "true") { show(b.dataset.point, true); }
  });

  document.querySelectorAll("#chart-ranges button[data-range]").forEach(function (b) {
    b.addEventListener("click", function () {
      range = b.dataset.range;
      document.querySelectorAll("#chart-ranges button").forEach(function (o) {
        o.setAttribute("aria-pressed", o === b ? "true" : "false");
      });
      drawAll();
      schedule();
    });
  });

  empty.hidden = Object.keys(charts).length > 0;
  schedule();
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
  });
})();
