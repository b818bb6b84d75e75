/* The wall display: KPIs, charts and lists redrawn from /wall/data every 30 s (the display
 * token's cookie; a revoked or expired token blanks the wall). Chart text is sized from the
 * viewport so 1920x1080 and 3840x2160 read alike; times are in the page's zone (zone.js). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("wall-config").textContent);
  var text = config.text;
  var charts = {};
  var COLORS = { critical: "#ff6b6b", major: "#fb923c", minor: "#facc15", warning: "#fde68a" };
  var INK = "#e5edf8", MUTED = "#a8b8d0", LINE = "#1f2d47";

  function px(vw) { return Math.max(12, Math.round(window.innerWidth * vw / 100)); }

  function chart(id) {
    var node = document.getElementById(id);
    if (!node) { return null; }
    if (!charts[id]) { charts[id] = echarts.init(node); }
    return charts[id];
  }

  function base(d) {
    var f = px(0.75);
    return {
      animation: false, useUTC: true, backgroundColor: "transparent",
      textStyle: { color: INK, fontSize: f },
      tooltip: { trigger: "axis", formatter: indunetZone.tooltip },
      grid: { left: f * 3.6, right: f * 1.2, top: f * 2.6, bottom: f * 2.2 },
      legend: { top: 0, right: 0, textStyle: { color: MUTED, fontSize: f }, itemWidth: f, itemHeight: f * 0.7 },
      xAxis: indunetZone.axis({ min: d.start, max: d.end,
        axisLabel: Object.assign(indunetZone.axis().axisLabel, { color: MUTED, fontSize: f }),
        axisLine: { lineStyle: { color: LINE } } }),
      yAxis: { type: "value", minInterval: 1, axisLabel: { color: MUTED, fontSize: f },
               splitLine: { lineStyle: { color: LINE } } }
    };
  }

  function empty(has) {
    return has ? [] : [{ type: "text", left: "center", top: "middle",
                         style: { text: text.no_data, fill: MUTED, fontSize: px(0.9) } }];
  }

  function draw(d) {
    var c = chart("wall-online");
    if (c) {
      c.setOption(Object.assign(base(d), {
        color: ["#4ade80"],
        graphic: empty(d.online.some(function (p) { return p[1] > 0; })),
        series: [{ name: text.online, type: "line", step: "end", showSymbol: false,
                   lineStyle: { width: px(0.12) }, areaStyle: { opacity: 0.2 }, data: d.online }]
      }), true);
    }
    c = chart("wall-alarms");
    if (c) {
      var any = false;
      var series = Object.keys(d.alarms).map(function (sev) {
        d.alarms[sev].forEach(function (p) { if (p[1] > 0) { any = true; } });
        return { name: text.severity[sev] || sev, type: "bar", stack: "a",
                 itemStyle: { color: COLORS[sev] }, data: d.alarms[sev] };
      });
      c.setOption(Object.assign(base(d), { graphic: empty(any), series: series }), true);
    }
    c = chart("wall-ingest");
    if (c && d.ingest) {
      c.setOption(Object.assign(base(d), {
        color: ["#60a5fa", "#4ade80"],
        graphic: empty(d.ingest.length > 0),
        series: [
          { name: text.accepted, type: "line", showSymbol: d.ingest.length < 3, data: d.ingest.map(function (m) { return [m[0], m[1]]; }) },
          { name: text.stored, type: "line", showSymbol: d.ingest.length < 3, lineStyle: { type: "dashed" }, data: d.ingest.map(function (m) { return [m[0], m[2]]; }) }
        ]
      }), true);
    }
    c = chart("wall-top");
    if (c) {
      var rows = d.top.slice().reverse();
      var f = px(0.75);
      c.setOption({
        animation: false, backgroundColor: "transparent", textStyle: { color: INK, fontSize: f },
        grid: { left: f * 9, right: f * 2, top: f, bottom: f * 2 },
        graphic: empty(rows.length > 0),
        xAxis: { type: "value", minInterval: 1, axisLabel: { color: MUTED, fontSize: f }, splitLine: { lineStyle: { color: LINE } } },
        yAxis: { type: "category", axisLabel: { color: INK, fontSize: f }, data: rows.map(function (r) { return r[0]; }) },
        series: [{ name: text.alarms, type: "bar", barMaxWidth: px(1.4), itemStyle: { color: "#f87171" }, data: rows.map(function (r) { return r[1]; }) }]
      }, true);
    }
  }

  function item(parts) {
    var li = document.createElement("li");
    parts.forEach(function (p) {
      var s = document.createElement("span");
      s.className = p[0];
      s.textContent = p[1];
      li.appendChild(s);
    });
    return li;
  }

  function lists(d) {
    var recent = document.getElementById("wall-recent");
    recent.replaceChildren.apply(recent, d.recent.length ? d.recent.map(function (a) {
      return item([["when", indunetZone.clock(a.at).slice(5, 16)], ["sev " + a.severity, text.severity[a.severity] || a.severity],
                   ["dev", a.device], ["msg", a.message]]);
    }) : [item([["none", "—"]])]);
    var offline = document.getElementById("wall-offline");
    offline.replaceChildren.apply(offline, d.offline.length ? d.offline.map(function (o) {
      return item([["dev", o.id], ["msg", o.name], ["when", o.since ? indunetZone.clock(o.since * 1000).slice(5, 16) : ""]]);
    }) : [item([["none", "—"]])]);
  }

  function kpis(d) {
    ["total", "online", "offline"].forEach(function (k) { document.getElementById("kpi-" + k).textContent = d.devices[k]; });
    Object.keys(d.alarm_counts).forEach(function (k) {
      var n = document.getElementById("kpi-" + k);
      if (n) { n.textContent = d.alarm_counts[k]; }
    });
    document.getElementById("wall-updated").textContent = indunetZone.clock(d.at);
  }

  function show(d) { kpis(d); draw(d); lists(d); document.body.setAttribute("data-loaded", String(d.at)); }

  function refresh() {
    fetch(config.data_url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (d) { if (d) { show(d); } })
      .catch(function () { /* the next refresh tries again */ });
  }

  function tick() { document.getElementById("wall-clock").textContent = indunetZone.clock(Date.now()); }

  show(JSON.parse(document.getElementById("wall-data").textContent));
  tick();
  setInterval(tick, 1000);
  setInterval(refresh, config.refresh_ms);
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
    refresh();
  });
})();
