// Central's charts: draws the server's chart data (a <script type="application/json" class="chart-data"> inside
// #screen) with uPlot, and again whenever a live update replaces the screen. No logic beyond drawing.
(function () {
  "use strict";
  var COLOURS = ["#0b3d91", "#9b1c1c", "#14532d", "#7a4b00", "#5b2a86"];
  var DASHES = [[], [8, 4], [2, 3], [12, 3, 2, 3], [4, 4]];  // meaning never carried by colour alone
  var drawn = "";
  var plots = [];

  function draw() {
    var screen = document.getElementById("screen");
    var source = screen && screen.querySelector("script.chart-data");
    if (!source || typeof uPlot === "undefined") { return; }
    var hosts = screen.querySelectorAll("[data-chart] .plot");
    var fresh = Array.prototype.some.call(hosts, function (h) { return !h.firstChild; });
    var alarmSource = screen.querySelector("script.alarm-data");
    var key = source.textContent + "|" + (alarmSource ? alarmSource.textContent : "");
    if (key === drawn && !fresh) { return; }
    drawn = key;
    plots.forEach(function (p) { p.destroy(); });
    plots = [];
    var data = JSON.parse(source.textContent);
    var markers = alarmSource ? JSON.parse(alarmSource.textContent) : [];
    var first = data.x.length ? data.x[0] : 0, last = data.x.length ? data.x[data.x.length - 1] + (data.span === "day" ? 300 : 3600) : 0;
    var shown = markers.filter(function (m) { return m.t >= first && m.t <= last; });
    data.charts.forEach(function (chart) {
      var host = screen.querySelector('[data-chart="' + chart.name + '"] .plot');
      if (!host) { return; }
      host.innerHTML = "";
      var series = [{ label: data.time_label }].concat(chart.lines.map(function (line, i) {
        var known = chart.values[i].filter(function (v) { return v !== null; }).length;
        return { label: line.label, stroke: COLOURS[i % COLOURS.length], dash: DASHES[i % DASHES.length], width: 2,
                 spanGaps: true,  // sparse series (device states every 15 min) still draw a line
                 points: { show: known < 60, size: 7, fill: COLOURS[i % COLOURS.length] } };  // a lone sample shows
      }));
      var width = Math.max(host.clientWidth || 560, 320);
      plots.push(new uPlot({ width: width, height: 200, series: series, scales: { x: { time: true } },
                             axes: [{}, { size: 50 }], hooks: { draw: [drawMarkers] } },
                           [data.x].concat(chart.values), host));
      host.setAttribute("data-drawn", "true");
      host.setAttribute("data-alarm-markers", String(shown.length));
    });
    document.body.setAttribute("data-charts-drawn", String(data.charts.length) + ":" + data.span);
    document.body.setAttribute("data-alarm-markers", shown.map(function (m) { return m.alarm + ":" + m.kind; }).join(" "));

    // an alarm's moments as vertical lines across the plot: raised solid, acknowledged dotted, cleared dashed
    function drawMarkers(u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.lineWidth = 2 * devicePixelRatio;
      shown.forEach(function (m) {
        var x = Math.round(u.valToPos(m.t, "x", true));
        ctx.strokeStyle = m.kind === "cleared" ? "#14532d" : (m.kind === "acknowledged" ? "#7a4b00" : "#9b1c1c");
        ctx.setLineDash(m.kind === "cleared" ? [6 * devicePixelRatio, 4 * devicePixelRatio]
                        : (m.kind === "acknowledged" ? [2 * devicePixelRatio, 3 * devicePixelRatio] : []));
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
      });
      ctx.restore();
    }
  }

  function start() {
    draw();
    var screen = document.getElementById("screen");
    if (screen) { new MutationObserver(draw).observe(screen, { childList: true }); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
